//! A second lifting of decode()'s result for decodeCompact: the same WIT types, but
//! every string is copied into one per-call arena (thread-local) while it is lifted
//! instead of becoming its own heap String. The guest's output has ~10,000 strings per
//! 256-record batch with logs on; allocating and freeing each one was most of the
//! cost of a call. The copy has to happen during lifting: the guest frees (and its
//! allocator overwrites) that memory in post-return, right after.

use std::cell::RefCell;

use wasmtime::component::__internal::wasmtime_environ::component::StringEncoding;
use wasmtime::component::__internal::{CanonicalAbiInfo, InstanceType, InterfaceType, LiftContext};
use wasmtime::component::{ComponentType, Lift};
use wasmtime::ValRaw;

thread_local! {
    static ARENA: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Takes this thread's arena (empty for the next call) once lifting is done.
pub fn take_arena() -> Vec<u8> {
    ARENA.with(|a| std::mem::take(&mut *a.borrow_mut()))
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
#[allow(dead_code)] // built by the derived lifting (discriminants = WIT order)
pub enum UpdateOp {
    #[component(name = "add")]
    Add,
    #[component(name = "set")]
    Set,
    #[component(name = "observe")]
    Observe,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct MetricUpdate {
    pub metric: u32,
    pub labels: Vec<AStr>,
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

#[derive(ComponentType, Lift, Clone, Copy)]
#[component(variant)]
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
pub struct Field {
    pub key: AStr,
    pub value: FieldValue,
}

#[derive(ComponentType, Lift)]
#[component(record)]
pub struct LogEvent {
    pub level: LogLevel,
    pub message: AStr,
    pub connection: u64,
    pub fields: Vec<Field>,
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
    pub metrics: Vec<MetricUpdate>,
    pub logs: Vec<LogEvent>,
    pub annotations: Vec<Annotation>,
    pub streams: Vec<StreamProgress>,
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
