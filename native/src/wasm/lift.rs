//! A second lifting of decode()'s result for decodeCompact: the same WIT types, but
//! every string is copied into one per-call arena (thread-local) while it is lifted
//! instead of becoming its own heap String. The guest's output has ~10,000 strings per
//! 256-record batch with logs on; allocating and freeing each one was most of the
//! cost of a call. The copy has to happen during lifting: the guest frees (and its
//! allocator overwrites) that memory in post-return, right after.
//!
//! The metrics and logs lists (`Metrics`, `Logs`) are not lifted by wasmtime's generic
//! per-element code but read from their canonical ABI layout in guest memory, with the
//! same checks; log-events are checked and rendered to JSON right there (compact.rs),
//! so their field keys and values are never copied out.

use std::cell::RefCell;

use wasmtime::component::__internal::wasmtime_environ::component::StringEncoding;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};
use wasmtime::ValRaw;

use super::budget;
use super::compact::{render_log, FieldRef, FieldVal};

thread_local! {
    static ARENA: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Takes this thread's arena (empty for the next call) once lifting is done.
pub fn take_arena() -> Vec<u8> {
    ARENA.with(|a| std::mem::take(&mut *a.borrow_mut()))
}

/// This thread's arena as lifted so far.
pub fn with_arena<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    ARENA.with(|a| f(&a.borrow()))
}

/// Gives a drained arena back so its capacity is reused.
pub fn return_arena(mut v: Vec<u8>) {
    v.clear();
    ARENA.with(|a| {
        let mut a = a.borrow_mut();
        if a.capacity() < v.capacity() {
            *a = v;
        }
    });
}

/// A lifted string: bytes `off..off+len` of the call's arena (valid UTF-8).
#[derive(Clone, Copy, Debug)]
pub struct AStr {
    pub off: u32,
    pub len: u32,
}

impl AStr {
    #[inline]
    pub fn get<'a>(&self, arena: &'a [u8]) -> &'a str {
        let b = &arena[self.off as usize..(self.off + self.len) as usize];
        // SAFETY: validated as UTF-8 when lifted, and the arena is append-only.
        unsafe { std::str::from_utf8_unchecked(b) }
    }
}

fn copy(cx: &LiftContext<'_>, ptr: u32, len: u32) -> wasmtime::Result<AStr> {
    if cx.options().string_encoding != StringEncoding::Utf8 {
        wasmtime::bail!("decodeCompact supports utf8 components only");
    }
    let (ptr, len) = (ptr as usize, len as usize);
    let mem = cx.memory();
    let Some(bytes) = ptr.checked_add(len).and_then(|end| mem.get(ptr..end)) else {
        wasmtime::bail!("string pointer/length out of bounds of memory");
    };
    // Charged before it is validated or copied: every reference, aliases included.
    budget::bytes(len, "a string")?;
    std::str::from_utf8(bytes)?;
    ARENA.with(|a| {
        let mut a = a.borrow_mut();
        let off = a.len();
        if off + len > u32::MAX as usize {
            wasmtime::bail!("decode output larger than 4 GiB of strings");
        }
        a.extend_from_slice(bytes);
        Ok(AStr {
            off: off as u32,
            len: len as u32,
        })
    })
}

/// Appends a (valid UTF-8) string to the arena.
fn push_str(s: &str) -> wasmtime::Result<AStr> {
    ARENA.with(|a| {
        let mut a = a.borrow_mut();
        let off = a.len();
        if off + s.len() > u32::MAX as usize {
            wasmtime::bail!("decode output larger than 4 GiB of strings");
        }
        a.extend_from_slice(s.as_bytes());
        Ok(AStr {
            off: off as u32,
            len: s.len() as u32,
        })
    })
}

// SAFETY: the same ABI as `string` (a pointer/length pair), checked by typecheck.
unsafe impl ComponentType for AStr {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

    fn typecheck(ty: &InterfaceType, _types: &InstanceType<'_>) -> wasmtime::Result<()> {
        match ty {
            InterfaceType::String => Ok(()),
            _ => wasmtime::bail!("expected `string`"),
        }
    }
}

// SAFETY: reads the pointer pair exactly as wasmtime's own `String`/`WasmStr` lifting does.
unsafe impl Lift for AStr {
    #[inline]
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        copy(cx, src[0].get_u32(), src[1].get_u32())
    }

    #[inline]
    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        _ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let ptr = u32::from_le_bytes(bytes[..4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        copy(cx, ptr, len)
    }
}

#[derive(ComponentType, Lift, Clone, Copy)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code)] // only typechecked (discriminants = WIT order)
pub enum UpdateOp {
    #[component(name = "add")]
    Add,
    #[component(name = "set")]
    Set,
    #[component(name = "observe")]
    Observe,
}

/// For typecheck and sizes only (see `Metrics`).
#[derive(ComponentType, Lift)]
#[component(record)]
#[allow(dead_code)]
pub struct MetricUpdate {
    pub metric: u32,
    pub labels: Counted<AStr>,
    pub op: UpdateOp,
    pub value: f64,
}

#[derive(ComponentType, Lift, Clone, Copy)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code)] // built by the derived lifting (discriminants = WIT order)
pub enum LogLevel {
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

// FieldValue, Field: like LogEvent, for typecheck and sizes only (see `Logs`).
#[derive(ComponentType, Lift, Clone, Copy)]
#[component(variant)]
#[allow(dead_code)]
pub enum FieldValue {
    #[component(name = "str")]
    Str(AStr),
    #[component(name = "int")]
    Int(i64),
    #[component(name = "uint")]
    Uint(u64),
    #[component(name = "float")]
    Float(f64),
    #[component(name = "boolean")]
    Boolean(bool),
}

#[derive(ComponentType, Lift)]
#[component(record)]
#[allow(dead_code)]
pub struct Field {
    pub key: AStr,
    pub value: FieldValue,
}

/// A WIT list lifted by wasmtime's generic code after its length is charged to the
/// budget as items (budget.rs), before anything is allocated for it.
pub struct Counted<T>(pub Vec<T>);

// SAFETY: exactly Vec<T>'s ABI and typecheck.
unsafe impl<T: ComponentType> ComponentType for Counted<T> {
    type Lower = [ValRaw; 2];
    const ABI: CanonicalAbiInfo = <Vec<T> as ComponentType>::ABI;

    fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
        <Vec<T> as ComponentType>::typecheck(ty, types)
    }
}

// SAFETY: delegates to Vec<T>'s lifting (a list lowers as [ptr, len]); reads the length first.
unsafe impl<T: Lift> Lift for Counted<T> {
    fn linear_lift_from_flat(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        src: &Self::Lower,
    ) -> wasmtime::Result<Self> {
        budget::items(src[1].get_u32() as usize, "list elements")?;
        Ok(Counted(<Vec<T> as Lift>::linear_lift_from_flat(cx, ty, src)?))
    }

    fn linear_lift_from_memory(
        cx: &mut LiftContext<'_>,
        ty: InterfaceType,
        bytes: &[u8],
    ) -> wasmtime::Result<Self> {
        let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
        budget::items(len as usize, "list elements")?;
        Ok(Counted(<Vec<T> as Lift>::linear_lift_from_memory(cx, ty, bytes)?))
    }
}

/// The typed form of a log-event: only its typecheck and host size (hostcall fuel) are
/// used; `Logs` lifts the list itself.
#[derive(ComponentType, Lift)]
#[component(record)]
#[allow(dead_code)]
pub struct LogEvent {
    pub level: LogLevel,
    pub message: AStr,
    pub connection: u64,
    pub fields: Counted<Field>,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct Annotation {
    pub connection: u64,
    pub key: AStr,
    pub value: AStr,
}

#[derive(ComponentType, Lift, Clone, Copy)]
#[component(enum)]
#[repr(u8)]
#[allow(dead_code)] // built by the derived lifting (discriminants = WIT order)
pub enum Direction {
    #[component(name = "egress")]
    Egress,
    #[component(name = "ingress")]
    Ingress,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct StreamProgress {
    pub connection: u64,
    pub direction: Direction,
    pub consumed: u32,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct DecodeOutput {
    pub metrics: Metrics,
    pub logs: Logs,
    pub annotations: Counted<Annotation>,
    pub streams: Counted<StreamProgress>,
}

/// decode-output in object form (decode / decodeAsync): wasmtime's generic lifting,
/// but every string goes through AStr (charged, into the arena) and every list is
/// Counted; convert.rs makes the JS objects.
#[derive(ComponentType, Lift)]
#[component(record)]
pub struct ObjOutput {
    pub metrics: Counted<MetricUpdate>,
    pub logs: Counted<LogEvent>,
    pub annotations: Counted<Annotation>,
    pub streams: Counted<StreamProgress>,
}

#[derive(ComponentType, Lift)]
#[component(variant)]
pub enum DecodeError {
    #[component(name = "unsupported")]
    Unsupported(String),
    #[component(name = "malformed")]
    Malformed(String),
}

/// decode's signature with these types.
pub type DecodeFn<'a> = wasmtime::component::TypedFunc<(&'a [u8],), (Result<DecodeOutput, DecodeError>,)>;
/// The same for the object form.
pub type ObjDecodeFn<'a> = wasmtime::component::TypedFunc<(&'a [u8],), (Result<ObjOutput, DecodeError>,)>;

/// decode-output's `list<log-event>`, read straight from the canonical ABI layout in
/// guest memory instead of wasmtime's generic per-element lifting, and checked and
/// rendered (compact.rs) right there: field keys and values are never copied out.
/// Checks, order of checks and error messages are those of the typed lifting of
/// `Vec<LogEvent>`: list bounds/alignment, hostcall fuel, enum/variant discriminants,
/// string bounds and UTF-8; then the compact rules (an invalid log only counted).
pub struct Logs {
    /// Of the valid log-events only, in order.
    pub level: Vec<u8>,
    pub message: Vec<AStr>,
    pub connection: Vec<u64>,
    pub ts: Vec<u64>,
    /// Their fields' JSON, back to back; log i ends at fields_end[i].
    pub fields_buf: String,
    pub fields_end: Vec<u32>,
    pub invalid: u32,
}

// Canonical ABI layout (sdk/wit/types.wit), checked against the derived types' ABI below.
// log-event: level u8 @0, message (ptr,len) @4, connection u64 @16, fields (ptr,len) @24;
// size 32, align 8.
const LOG_SIZE: usize = 32;
const LOG_ALIGN: usize = 8;
// field: key (ptr,len) @0, value @8 = field-value: u8 discriminant @8, payload @16;
// size 24, align 8.
const FIELD_SIZE: usize = 24;
const FIELD_ALIGN: usize = 8;
const _: () = {
    assert!(<LogEvent as ComponentType>::ABI.size32 as usize == LOG_SIZE);
    assert!(<LogEvent as ComponentType>::ABI.align32 as usize == LOG_ALIGN);
    assert!(<Field as ComponentType>::ABI.size32 as usize == FIELD_SIZE);
    assert!(<Field as ComponentType>::ABI.align32 as usize == FIELD_ALIGN);
    assert!(<FieldValue as ComponentType>::ABI.size32 == 16);
};

#[inline(always)]
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[inline(always)]
fn rd_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A list's (ptr, len) checked as wasmtime's WasmList::new does; the byte range.
#[inline]
fn list_range(
    cx: &mut LiftContext<'_>,
    ptr: u32,
    len: u32,
    elem_size: usize,
    align: usize,
    host_size: usize,
) -> wasmtime::Result<(usize, usize)> {
    let (ptr, len) = (ptr as usize, len as usize);
    match len.checked_mul(elem_size).and_then(|n| ptr.checked_add(n)) {
        Some(end) if end <= cx.memory().len() => cx.consume_fuel_array(len, host_size)?,
        _ => wasmtime::bail!("list pointer/length out of bounds of memory"),
    }
    if ptr % align != 0 {
        wasmtime::bail!("list pointer is not aligned")
    }
    Ok((ptr, len))
}

/// A string of guest memory, checked as `copy` does (encoding, bounds, UTF-8), borrowed.
#[inline]
fn str_at<'m>(utf8: bool, mem: &'m [u8], ptr: u32, len: u32) -> wasmtime::Result<&'m str> {
    if !utf8 {
        wasmtime::bail!("decodeCompact supports utf8 components only");
    }
    let (ptr, len) = (ptr as usize, len as usize);
    let Some(bytes) = ptr.checked_add(len).and_then(|end| mem.get(ptr..end)) else {
        wasmtime::bail!("string pointer/length out of bounds of memory");
    };
    budget::bytes(len, "a string")?;
    if bytes.is_ascii() {
        // SAFETY: ASCII is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    Ok(std::str::from_utf8(bytes)?)
}

fn lift_logs(cx: &mut LiftContext<'_>, ptr: u32, len: u32) -> wasmtime::Result<Logs> {
    let (base, n) = list_range(cx, ptr, len, LOG_SIZE, LOG_ALIGN, std::mem::size_of::<LogEvent>())?;
    budget::items(n, "log-events")?;
    let utf8 = cx.options().string_encoding == StringEncoding::Utf8;
    let mut out = Logs {
        level: Vec::with_capacity(n),
        message: Vec::with_capacity(n),
        connection: Vec::with_capacity(n),
        ts: Vec::with_capacity(n),
        // Grown as needed past this (charged, see below).
        fields_buf: String::with_capacity(n.saturating_mul(256).min(1 << 20)),
        fields_end: Vec::with_capacity(n),
        invalid: 0,
    };
    let mut fields: Vec<FieldRef<'_>> = Vec::new();
    for i in 0..n {
        // The memory can't change (nor grow) while the result is lifted.
        let mem = cx.memory();
        let at = base + i * LOG_SIZE;
        // In bounds: checked by list_range.
        let rec: &[u8; LOG_SIZE] = mem[at..at + LOG_SIZE].try_into().unwrap();
        let level = match rec[0] {
            d @ 0..=3 => d,
            d => wasmtime::bail!("unexpected discriminant: {d}"),
        };
        let message_text = str_at(utf8, mem, rd_u32(rec, 4), rd_u32(rec, 8))?;
        let connection = rd_u64(rec, 16);
        let (fbase, fn_) = list_range(
            cx,
            rd_u32(rec, 24),
            rd_u32(rec, 28),
            FIELD_SIZE,
            FIELD_ALIGN,
            std::mem::size_of::<Field>(),
        )?;
        budget::items(fn_, "log fields")?;
        fields.clear();
        for j in 0..fn_ {
            let fat = fbase + j * FIELD_SIZE;
            let f: &[u8; FIELD_SIZE] = mem[fat..fat + FIELD_SIZE].try_into().unwrap();
            let key = str_at(utf8, mem, rd_u32(f, 0), rd_u32(f, 4))?;
            let value = match f[8] {
                0 => FieldVal::Str(str_at(utf8, mem, rd_u32(f, 16), rd_u32(f, 20))?),
                1 => FieldVal::Int(rd_u64(f, 16) as i64),
                2 => FieldVal::Uint(rd_u64(f, 16)),
                3 => FieldVal::Float(f64::from_bits(rd_u64(f, 16))),
                4 => FieldVal::Boolean(f[16] != 0),
                d => wasmtime::bail!("unexpected discriminant: {d}"),
            };
            fields.push(FieldRef { key, value });
        }
        let before = out.fields_buf.len();
        let rendered = render_log(&mut out.fields_buf, message_text, &fields);
        // One log-event's rendering is bounded by the log rules (at most 64 fields, keys
        // of 64 and values of 4096 characters): about 1.6 MB escaped.
        budget::bytes(out.fields_buf.len() - before, "rendered log fields")?;
        match rendered {
            Some(ts) => {
                if out.fields_buf.len() > u32::MAX as usize {
                    wasmtime::bail!("decode output larger than 4 GiB of log fields");
                }
                out.fields_end.push(out.fields_buf.len() as u32);
                out.level.push(level);
                out.message.push(push_str(message_text)?);
                out.connection.push(connection);
                out.ts.push(ts);
            }
            None => out.invalid += 1,
        }
    }
    Ok(out)
}

/// A WIT list lifted by hand: typechecked as `Vec<$elem>` (same canonical ABI), read
/// from guest memory by `$lift(cx, ptr, len)`.
macro_rules! raw_list_lift {
    ($name:ty, $elem:ty, $lift:ident) => {
        // SAFETY: the ABI of a WIT list (a pointer/length pair), checked by typecheck.
        unsafe impl ComponentType for $name {
            type Lower = [ValRaw; 2];
            const ABI: CanonicalAbiInfo = CanonicalAbiInfo::POINTER_PAIR;

            fn typecheck(ty: &InterfaceType, types: &InstanceType<'_>) -> wasmtime::Result<()> {
                <Vec<$elem> as ComponentType>::typecheck(ty, types)
            }
        }

        // SAFETY: reads guest memory only through bounds-checked slices of cx.memory().
        unsafe impl Lift for $name {
            fn linear_lift_from_flat(
                cx: &mut LiftContext<'_>,
                _ty: InterfaceType,
                src: &Self::Lower,
            ) -> wasmtime::Result<Self> {
                $lift(cx, src[0].get_u32(), src[1].get_u32())
            }

            fn linear_lift_from_memory(
                cx: &mut LiftContext<'_>,
                _ty: InterfaceType,
                bytes: &[u8],
            ) -> wasmtime::Result<Self> {
                let ptr = u32::from_le_bytes(bytes[..4].try_into().unwrap());
                let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
                $lift(cx, ptr, len)
            }
        }
    };
}

raw_list_lift!(Logs, LogEvent, lift_logs);

/// decode-output's `list<metric-update>` as columns, read straight from guest memory
/// like `Logs` (no Vec per update for its labels); label strings copied into the arena.
/// Checks, their order and messages are those of the typed lifting of
/// `Vec<MetricUpdate>`.
pub struct Metrics {
    pub metric: Vec<u32>,
    pub op: Vec<u8>,
    pub value: Vec<f64>,
    /// Update i's labels are labels[label_start[i]..label_start[i + 1]].
    pub label_start: Vec<u32>,
    pub labels: Vec<AStr>,
}

// metric-update: metric u32 @0, labels (ptr,len) @4, op u8 @12, value f64 @16; size 24,
// align 8. A label: string (ptr,len), size 8, align 4.
const MU_SIZE: usize = 24;
const MU_ALIGN: usize = 8;
const _: () = {
    assert!(<MetricUpdate as ComponentType>::ABI.size32 as usize == MU_SIZE);
    assert!(<MetricUpdate as ComponentType>::ABI.align32 as usize == MU_ALIGN);
    assert!(<AStr as ComponentType>::ABI.size32 == 8);
    assert!(<AStr as ComponentType>::ABI.align32 == 4);
};

fn lift_metrics(cx: &mut LiftContext<'_>, ptr: u32, len: u32) -> wasmtime::Result<Metrics> {
    let (base, n) = list_range(cx, ptr, len, MU_SIZE, MU_ALIGN, std::mem::size_of::<MetricUpdate>())?;
    budget::items(n, "metric updates")?;
    let mut out = Metrics {
        metric: Vec::with_capacity(n),
        op: Vec::with_capacity(n),
        value: Vec::with_capacity(n),
        label_start: Vec::with_capacity(n + 1),
        labels: Vec::new(),
    };
    out.label_start.push(0);
    for i in 0..n {
        let mem = cx.memory();
        let at = base + i * MU_SIZE;
        // In bounds: checked by list_range; the memory can't change while lifting.
        let rec: [u8; MU_SIZE] = mem[at..at + MU_SIZE].try_into().unwrap();
        let (lbase, ln) = list_range(
            cx,
            rd_u32(&rec, 4),
            rd_u32(&rec, 8),
            8,
            4,
            std::mem::size_of::<AStr>(),
        )?;
        budget::items(ln, "label values")?;
        if out.labels.len() + ln > u32::MAX as usize {
            wasmtime::bail!("decode output has more than 4G metric labels");
        }
        for j in 0..ln {
            let lat = lbase + j * 8;
            let l: [u8; 8] = mem[lat..lat + 8].try_into().unwrap();
            out.labels.push(copy(cx, rd_u32(&l, 0), rd_u32(&l, 4))?);
        }
        let op = match rec[12] {
            d @ 0..=2 => d,
            d => wasmtime::bail!("unexpected discriminant: {d}"),
        };
        out.metric.push(rd_u32(&rec, 0));
        out.op.push(op);
        out.value.push(f64::from_bits(rd_u64(&rec, 16)));
        out.label_start.push(out.labels.len() as u32);
    }
    Ok(out)
}

raw_list_lift!(Metrics, MetricUpdate, lift_metrics);
