//! One Store per decoder instance: memory cap, per-call epoch deadline and fuel, fault
//! classification, and poisoning (the Store is dropped after any fault).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, JsObject, JsUnknown, Task};
use napi_derive::napi;
use wasmtime::{ResourceLimiter, Store, StoreLimits, StoreLimitsBuilder, Trap};

use super::bindings::{DecoderPlugin, DecoderPluginPre};
use super::budget::{self, HostFault, OutputLimits};
use super::compact::{json_extra, Compact};
use super::convert;
use super::lift;
use super::engine::{chain, EngineCtx};
use crate::errors::{self, err, Result};

#[napi(object)]
pub struct InstanceLimits {
    /// Cap on linear memory, bytes; growth past it traps ('oom').
    pub memory_bytes: f64,
    /// Per-call wall-clock deadline, via epoch interruption ('timeout').
    pub deadline_ms: f64,
    /// Per-call fuel ('timeout' when exhausted); needs WasmEngine({ consumeFuel: true }).
    pub fuel: Option<f64>,
    /// Per-call output budget, bytes (budget.rs; 'oversize' when exceeded).
    pub output_bytes: Option<f64>,
    /// Per-call output budget, items (budget.rs; 'oversize' when exceeded).
    pub output_items: Option<f64>,
}

pub const DEFAULT_OUTPUT_BYTES: u64 = 16 << 20;
pub const DEFAULT_OUTPUT_ITEMS: u64 = 1 << 18;

#[napi(object)]
pub struct OutputUsage {
    pub bytes: f64,
    pub items: f64,
}

/// Wraps StoreLimits to remember that *it* refused a growth: that is what tells an
/// 'oom' apart from any other trap (wasmtime reports it as a plain error).
pub struct Limiter {
    limits: StoreLimits,
    refused: bool,
    memory_bytes: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let r = self.limits.memory_growing(current, desired, maximum);
        match r {
            Ok(true) => self.memory_bytes += desired - current,
            _ => self.refused = true,
        }
        r
    }
    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        self.limits.memory_grow_failed(error)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let r = self.limits.table_growing(current, desired, maximum);
        if !matches!(r, Ok(true)) {
            self.refused = true;
        }
        r
    }
    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.refused = true;
        self.limits.table_grow_failed(error)
    }
    fn instances(&self) -> usize {
        self.limits.instances()
    }
    fn tables(&self) -> usize {
        self.limits.tables()
    }
    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

pub struct HostState {
    limiter: Limiter,
}

struct Live {
    store: Store<HostState>,
    plugin: DecoderPlugin,
    /// The same export as plugin's decode, typechecked against lift.rs's types (both
    /// the compact `DecodeOutput` and the object `ObjOutput`).
    decode_c: wasmtime::component::Func,
}

const DECODER_EXPORT: &str = "lightfoot:decoder/decoder@0.2.0";

/// Instance + bindings + the decode function for the compact lifting (lift.rs).
fn start(
    store: &mut Store<HostState>,
    pre: &DecoderPluginPre<HostState>,
) -> wasmtime::Result<(DecoderPlugin, wasmtime::component::Func)> {
    let instance = pre.instance_pre().instantiate(&mut *store)?;
    let plugin = DecoderPlugin::new(&mut *store, &instance)?;
    let iface = instance
        .get_export_index(&mut *store, None, DECODER_EXPORT)
        .ok_or_else(|| wasmtime::format_err!("no export {DECODER_EXPORT}"))?;
    let fidx = instance
        .get_export_index(&mut *store, Some(&iface), "decode")
        .ok_or_else(|| wasmtime::format_err!("no export {DECODER_EXPORT}#decode"))?;
    let func = instance
        .get_func(&mut *store, &fidx)
        .ok_or_else(|| wasmtime::format_err!("{DECODER_EXPORT}#decode is not a function"))?;
    func.typed::<(&[u8],), (std::result::Result<lift::DecodeOutput, lift::DecodeError>,)>(&*store)?;
    func.typed::<(&[u8],), (std::result::Result<lift::ObjOutput, lift::DecodeError>,)>(&*store)?;
    Ok((plugin, func))
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum FaultKind {
    /// The guest trapped.
    Trap,
    /// The call (guest code, or the host lifting its output) ran past its deadline or fuel.
    Timeout,
    /// Linear memory growth past memoryBytes.
    Oom,
    /// The host refused the output while lifting it: bounds, alignment, UTF-8,
    /// discriminants.
    BadOutput,
    /// The output is over the per-call budget (budget.rs).
    Oversize,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Timeout => "timeout",
            FaultKind::Oom => "oom",
            FaultKind::BadOutput => "bad_output",
            FaultKind::Oversize => "oversize",
        }
    }
}

/// Why a call produced no value; turned into a coded JS Error by `to_js_error`.
pub(crate) enum CallError {
    Fault { kind: FaultKind, msg: String },
    Decode { which: &'static str, msg: String },
    Other { code: &'static str, msg: String },
}

/// The part of an instance shared with thread-pool calls.
struct Shared {
    /// Calls on one instance are serialized here: a second call waits for the first.
    live: Mutex<Option<Live>>,
    poisoned: AtomicBool,
    /// Set with `poisoned`: what killed the instance, for later calls' errors.
    cause: Mutex<String>,
    memory_bytes: AtomicU64,
    deadline_ticks: u64,
    deadline_ms: f64,
    fuel: Option<u64>,
    output: OutputLimits,
    /// What the last decode's output used of the budget (bytes, items).
    usage_bytes: AtomicU64,
    usage_items: AtomicU64,
}

#[napi]
pub struct DecoderInstance {
    shared: Arc<Shared>,
}

fn classify(limiter_refused: bool, e: &wasmtime::Error) -> FaultKind {
    if limiter_refused {
        return FaultKind::Oom;
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) | Some(Trap::OutOfFuel) => FaultKind::Timeout,
        _ => FaultKind::Trap,
    }
}

/// wasmtime's message when a lifting used up the store's hostcall fuel (its own cap on
/// what lifting may allocate; we set it from the output budget).
const HOSTCALL_FUEL_EXHAUSTED: &str = "fuel allocated for hostcalls has been exhausted";

/// A call's error: the host's own verdict (budget.rs) first; then the guest's traps,
/// deadline and fuel; anything else came from lifting the guest's result on the host
/// (bounds, alignment, UTF-8, discriminants) and is bad output, never a guest trap.
fn classify_call(limiter_refused: bool, e: &wasmtime::Error) -> FaultKind {
    if let Some(h) = e.downcast_ref::<HostFault>() {
        return h.kind;
    }
    if limiter_refused || e.downcast_ref::<Trap>().is_some() {
        return classify(limiter_refused, e);
    }
    if e.chain().any(|c| c.to_string().contains(HOSTCALL_FUEL_EXHAUSTED)) {
        return FaultKind::Oversize;
    }
    FaultKind::BadOutput
}

fn fault_message(what: &str, kind: FaultKind, deadline_ms: f64, e: &wasmtime::Error) -> String {
    let detail = match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) if kind == FaultKind::Timeout => {
            format!(" (deadline {deadline_ms} ms)")
        }
        Some(Trap::OutOfFuel) if kind == FaultKind::Timeout => " (out of fuel)".to_string(),
        _ => String::new(),
    };
    format!(
        "{what}: decoder fault {}{detail}: {}",
        kind.as_str(),
        chain(e)
    )
}

/// Deadline in epoch ticks: one extra tick because the first one comes after 0..tick ms.
fn deadline_ticks(deadline_ms: f64, tick_ms: u32) -> u64 {
    (deadline_ms / f64::from(tick_ms)).ceil() as u64 + 1
}

/// wasmtime's own cap on what one lifting may copy (strings, list allocations): a
/// backstop for the typed lifting of describe()'s result; decode's is charged first
/// to the output budget.
fn hostcall_fuel(o: OutputLimits) -> usize {
    o.bytes.saturating_add(o.items.saturating_mul(64)).min(usize::MAX as u64) as usize
}

fn prepare(store: &mut Store<HostState>, ticks: u64, fuel: Option<u64>) -> wasmtime::Result<()> {
    store.data_mut().limiter.refused = false;
    store.set_epoch_deadline(ticks);
    if let Some(f) = fuel {
        store.set_fuel(f)?;
    }
    Ok(())
}

pub(crate) fn instantiate(
    env: Env,
    ctx: &EngineCtx,
    pre: &DecoderPluginPre<HostState>,
    limits: InstanceLimits,
) -> Result<DecoderInstance> {
    let bad = |m: &str| err(errors::CONFIG, format!("instantiating decoder: {m}"));
    if !(limits.memory_bytes >= 65536.0 && limits.memory_bytes <= 4_294_967_296.0) {
        return Err(bad("memoryBytes must be between 65536 and 4294967296"));
    }
    if !(limits.deadline_ms > 0.0 && limits.deadline_ms <= 3_600_000.0) {
        return Err(bad("deadlineMs must be > 0 and <= 3600000"));
    }
    let fuel = match limits.fuel {
        None => None,
        Some(_) if !ctx.fuel => {
            return Err(bad(
                "fuel needs a WasmEngine created with consumeFuel: true",
            ))
        }
        Some(f) if f >= 1.0 && f <= u64::MAX as f64 => Some(f as u64),
        Some(_) => return Err(bad("fuel must be >= 1")),
    };
    let count = |v: Option<f64>, default: u64, name: &str| -> Result<u64> {
        match v {
            None => Ok(default),
            Some(f) if f >= 1.0 && f <= 9_007_199_254_740_991.0 && f.fract() == 0.0 => Ok(f as u64),
            Some(_) => Err(bad(&format!("{name} must be a whole number >= 1"))),
        }
    };
    let output = OutputLimits {
        bytes: count(limits.output_bytes, DEFAULT_OUTPUT_BYTES, "outputBytes")?,
        items: count(limits.output_items, DEFAULT_OUTPUT_ITEMS, "outputItems")?,
    };
    let limiter = Limiter {
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes as usize)
            // A refused growth traps instead of returning -1 to the guest, so a guest
            // that ignores malloc failures can't limp on, and the fault is 'oom'.
            .trap_on_grow_failure(true)
            .build(),
        refused: false,
        memory_bytes: 0,
    };
    let mut store = Store::new(&ctx.engine, HostState { limiter });
    store.limiter(|s| &mut s.limiter);
    store.set_hostcall_fuel(hostcall_fuel(output));
    let ticks = deadline_ticks(limits.deadline_ms, ctx.tick_ms);

    let started = prepare(&mut store, ticks, fuel).and_then(|()| start(&mut store, pre));
    let (plugin, decode_c) = match started {
        Ok(p) => p,
        Err(e) => {
            let kind = classify(store.data().limiter.refused, &e);
            let msg = fault_message("instantiating decoder", kind, limits.deadline_ms, &e);
            return Err(throw(&env, CallError::Fault { kind, msg }));
        }
    };
    let memory_bytes = store.data().limiter.memory_bytes as u64;
    Ok(DecoderInstance {
        shared: Arc::new(Shared {
            live: Mutex::new(Some(Live {
                store,
                plugin,
                decode_c,
            })),
            poisoned: AtomicBool::new(false),
            cause: Mutex::new(String::new()),
            memory_bytes: AtomicU64::new(memory_bytes),
            deadline_ticks: ticks,
            deadline_ms: limits.deadline_ms,
            fuel,
            output,
            usage_bytes: AtomicU64::new(0),
            usage_items: AtomicU64::new(0),
        }),
    })
}

impl Shared {
    /// Runs one guest call under the limits; a fault drops the Store (poisoning).
    fn call<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Live) -> wasmtime::Result<R>,
    ) -> std::result::Result<R, CallError> {
        let mut guard = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let Some(live) = guard.as_mut() else {
            let cause = self.cause.lock().unwrap_or_else(|e| e.into_inner()).clone();
            return Err(CallError::Other {
                code: errors::CLOSED,
                msg: format!("{what}: decoder instance is poisoned ({cause}): instantiate the component again"),
            });
        };
        // The host's lifting of the result counts against the same deadline (budget.rs).
        budget::begin(self.output, Instant::now(), Duration::from_secs_f64(self.deadline_ms / 1000.0));
        let r = prepare(&mut live.store, self.deadline_ticks, self.fuel).and_then(|()| f(live));
        let used = budget::end();
        self.usage_bytes.store(used.bytes, Ordering::Relaxed);
        self.usage_items.store(used.items, Ordering::Relaxed);
        self.memory_bytes.store(
            live.store.data().limiter.memory_bytes as u64,
            Ordering::Relaxed,
        );
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                let kind = classify_call(live.store.data().limiter.refused, &e);
                let msg = fault_message(what, kind, self.deadline_ms, &e);
                // Also for bad_output/oversize: the guest's post-return never ran.
                *guard = None;
                *self.cause.lock().unwrap_or_else(|e| e.into_inner()) =
                    format!("{} fault", kind.as_str());
                self.poisoned.store(true, Ordering::SeqCst);
                Err(CallError::Fault { kind, msg })
            }
        }
    }

    /// decode in object form: lifted by lift.rs's `ObjOutput` (charged to the budget,
    /// strings into the arena); convert.rs makes the JS objects.
    fn decode(&self, batch: &[u8]) -> std::result::Result<(lift::ObjOutput, Vec<u8>), CallError> {
        drop(lift::take_arena()); // leftovers of a failed lift
        let r = self.call("decode", |l| {
            // SAFETY: typechecked with these exact types in start().
            let f = unsafe { lift::ObjDecodeFn::new_unchecked(l.decode_c) };
            let r = f.call(&mut l.store, (batch,)).map(|(r,)| r)?;
            if let Ok(out) = &r {
                charge_rendering(out)?;
            }
            Ok(r)
        });
        let arena = lift::take_arena();
        match r? {
            Ok(out) => Ok((out, arena)),
            Err(e) => Err(decode_error(e)),
        }
    }
}

impl Shared {
    /// decode through lift.rs (strings into the arena) and compacted (compact.rs).
    fn decode_compact(&self, batch: &[u8]) -> std::result::Result<Compact, CallError> {
        drop(lift::take_arena()); // leftovers of a failed lift
        let r = self.call("decode", |l| {
            // SAFETY: typechecked with these exact types in start().
            let f = unsafe { lift::DecodeFn::new_unchecked(l.decode_c) };
            f.call(&mut l.store, (batch,)).map(|(r,)| r)
        });
        let arena = lift::take_arena();
        match r? {
            Ok(out) => Ok(Compact::from_lifted(out, arena)),
            Err(e) => Err(decode_error(e)),
        }
    }
}

/// The object form's log fields become event lines in JS (JSON.stringify): charged
/// again at their escaped size, as the compact form charges what it renders. Runs
/// within the call: the guest's post-return comes after.
fn charge_rendering(out: &lift::ObjOutput) -> wasmtime::Result<()> {
    lift::with_arena(|arena| {
        for l in &out.logs.0 {
            for f in &l.fields.0 {
                let k = f.key.get(arena);
                budget::bytes(k.len() + json_extra(k) + 3, "rendered log fields")?;
                if let lift::FieldValue::Str(v) = &f.value {
                    let v = v.get(arena);
                    budget::bytes(v.len() + json_extra(v) + 2, "rendered log fields")?;
                }
            }
        }
        Ok(())
    })
}

/// A guest decode-error result (not a fault); its message is cut to 1024 bytes.
fn decode_error(e: lift::DecodeError) -> CallError {
    let (which, mut msg) = match e {
        lift::DecodeError::Unsupported(m) => ("unsupported", m),
        lift::DecodeError::Malformed(m) => ("malformed", m),
    };
    if msg.len() > 1024 {
        let mut cut = 1024;
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        msg.truncate(cut);
        msg.push('…');
    }
    CallError::Decode {
        which,
        msg: format!("decode: {which}: {msg}"),
    }
}

/// A JS Error with `code` and, for faults/decode errors, `faultKind`/`decodeError`.
pub(crate) fn to_js_error(env: &Env, e: CallError) -> napi::Result<JsObject> {
    let (code, msg, extra) = match e {
        CallError::Fault { kind, msg } => (
            errors::DECODER_FAULT,
            msg,
            Some(("faultKind", kind.as_str())),
        ),
        CallError::Decode { which, msg } => (errors::DECODE, msg, Some(("decodeError", which))),
        CallError::Other { code, msg } => (code, msg, None),
    };
    let mut o = env.create_error(napi::Error::new(napi::Status::GenericFailure, msg))?;
    o.set_named_property("code", env.create_string(code)?)?;
    if let Some((k, v)) = extra {
        o.set_named_property(k, env.create_string(v)?)?;
    }
    Ok(o)
}

/// Throws the error now and returns the "exception pending" marker napi-rs expects.
fn throw(env: &Env, e: CallError) -> napi::Error<String> {
    let fallback = match &e {
        CallError::Fault { msg, .. } => err(errors::DECODER_FAULT, msg.clone()),
        CallError::Decode { msg, .. } => err(errors::DECODE, msg.clone()),
        CallError::Other { code, msg } => err(code, msg.clone()),
    };
    match to_js_error(env, e).and_then(|o| env.throw(o)) {
        Ok(()) => napi::Error::new(
            napi::Status::PendingException.as_ref().to_string(),
            String::new(),
        ),
        Err(_) => fallback,
    }
}

#[napi]
impl DecoderInstance {
    #[napi(ts_return_type = "DecoderInfo")]
    pub fn describe(&self, env: Env) -> Result<JsObject> {
        let info = self
            .shared
            .call("describe", |l| {
                l.plugin
                    .lightfoot_decoder_decoder()
                    .call_describe(&mut l.store)
            })
            .map_err(|e| throw(&env, e))?;
        convert::info_to_js(&env, &info).map_err(crate::errors::from_napi)
    }

    /// Synchronous decode on the calling (main) thread, bounded by deadlineMs.
    #[napi(ts_return_type = "DecodeOutput")]
    pub fn decode(&self, env: Env, batch: Buffer) -> Result<JsObject> {
        let (out, arena) = self.shared.decode(&batch).map_err(|e| throw(&env, e))?;
        let o = convert::output_to_js(&env, &out, &arena).map_err(crate::errors::from_napi);
        lift::return_arena(arena);
        o
    }

    /// The same call on the libuv thread pool. The raw addon resolves with either the
    /// output or an Error object; runtime/native/binding.ts turns the latter into a rejection
    /// (napi-rs can only reject with code+message, and faults carry faultKind).
    #[napi(ts_return_type = "Promise<DecodeOutput | Error>")]
    pub fn decode_async(&self, batch: Buffer) -> AsyncTask<DecodeTask> {
        AsyncTask::new(DecodeTask {
            shared: self.shared.clone(),
            batch: batch.to_vec(),
            out: None,
        })
    }

    /// decode() with the output in compact form (docs/native-api.md, "decodeCompact"):
    /// columns of metric updates over interned strings, log fields pre-rendered as JSON.
    #[napi(ts_return_type = "CompactOutput")]
    pub fn decode_compact(&self, env: Env, batch: Buffer) -> Result<JsObject> {
        let c = self
            .shared
            .decode_compact(&batch)
            .map_err(|e| throw(&env, e))?;
        let o = c.to_js(&env).map_err(crate::errors::from_napi)?;
        c.recycle();
        Ok(o)
    }

    /// decodeCompact on the libuv thread pool: the guest call and the compaction (string
    /// interning, JSON rendering) run there; the main thread only creates the JS values.
    #[napi(ts_return_type = "Promise<CompactOutput | Error>")]
    pub fn decode_compact_async(&self, batch: Buffer) -> AsyncTask<DecodeCompactTask> {
        AsyncTask::new(DecodeCompactTask {
            shared: self.shared.clone(),
            batch: batch.to_vec(),
            out: None,
        })
    }

    /// What the last call's output used of the per-call budget (budget.rs).
    #[napi]
    pub fn last_output_usage(&self) -> OutputUsage {
        OutputUsage {
            bytes: self.shared.usage_bytes.load(Ordering::Relaxed) as f64,
            items: self.shared.usage_items.load(Ordering::Relaxed) as f64,
        }
    }

    /// Current linear memory size, bytes (as of the last call's end).
    #[napi]
    pub fn memory_bytes(&self) -> f64 {
        self.shared.memory_bytes.load(Ordering::Relaxed) as f64
    }

    #[napi(getter)]
    pub fn poisoned(&self) -> bool {
        self.shared.poisoned.load(Ordering::SeqCst)
    }
}

pub struct DecodeTask {
    shared: Arc<Shared>,
    /// Copied: a JS Buffer can't be read off the main thread safely.
    batch: Vec<u8>,
    out: Option<std::result::Result<(lift::ObjOutput, Vec<u8>), CallError>>,
}

impl Task for DecodeTask {
    type Output = ();
    type JsValue = JsUnknown;

    fn compute(&mut self) -> napi::Result<()> {
        self.out = Some(self.shared.decode(&self.batch));
        Ok(())
    }

    fn resolve(&mut self, env: Env, _: ()) -> napi::Result<JsUnknown> {
        match self.out.take() {
            Some(Ok((out, arena))) => {
                let o = convert::output_to_js(&env, &out, &arena)?.into_unknown();
                lift::return_arena(arena);
                Ok(o)
            }
            Some(Err(e)) => Ok(to_js_error(&env, e)?.into_unknown()),
            None => Err(napi::Error::from_reason(
                "decode task finished without a result",
            )),
        }
    }
}

pub struct DecodeCompactTask {
    shared: Arc<Shared>,
    batch: Vec<u8>,
    out: Option<std::result::Result<Compact, CallError>>,
}

impl Task for DecodeCompactTask {
    type Output = ();
    type JsValue = JsUnknown;

    fn compute(&mut self) -> napi::Result<()> {
        self.out = Some(self.shared.decode_compact(&self.batch));
        Ok(())
    }

    fn resolve(&mut self, env: Env, _: ()) -> napi::Result<JsUnknown> {
        match self.out.take() {
            Some(Ok(c)) => {
                let o = c.to_js(&env)?.into_unknown();
                c.recycle();
                Ok(o)
            }
            Some(Err(e)) => Ok(to_js_error(&env, e)?.into_unknown()),
            None => Err(napi::Error::from_reason(
                "decode task finished without a result",
            )),
        }
    }
}
