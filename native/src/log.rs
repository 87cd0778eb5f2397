//! libbpf's print callback: every line goes into a bounded in-memory buffer (so load()
//! can quote the verifier's tail) and, when installed, to a JS handler.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, CStr};
use std::sync::{Mutex, Once};

use libbpf_sys as sys;
use napi::threadsafe_function::{ErrorStrategy, ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsFunction};

use crate::errors::Result;

/// Enough for a verifier log tail plus the libbpf lines around it; older lines fall off.
const MAX_LINES: usize = 4000;

struct LogBuf {
    lines: VecDeque<String>,
    /// Sequence number of `lines[0]`; lets callers ask "what was printed since X".
    first_seq: u64,
}

static BUF: Mutex<LogBuf> = Mutex::new(LogBuf {
    lines: VecDeque::new(),
    first_seq: 0,
});
type Handler = ThreadsafeFunction<(&'static str, String), ErrorStrategy::Fatal>;
static HANDLER: Mutex<Option<Handler>> = Mutex::new(None);
static INSTALL: Once = Once::new();

extern "C" {
    // glibc; formats a va_list into a malloc'd string of exactly the needed size, which
    // matters because libbpf hands the whole verifier log over in one call.
    fn vasprintf(strp: *mut *mut c_char, fmt: *const c_char, ap: *mut sys::__va_list_tag) -> c_int;
}

unsafe extern "C" fn print_cb(
    level: sys::libbpf_print_level,
    fmt: *const c_char,
    ap: *mut sys::__va_list_tag,
) -> c_int {
    let mut out: *mut c_char = std::ptr::null_mut();
    // SAFETY: fmt/ap come straight from libbpf and are valid for this call; vasprintf consumes ap once.
    let n = unsafe { vasprintf(&mut out, fmt, ap) };
    if n < 0 || out.is_null() {
        return 0;
    }
    // SAFETY: vasprintf succeeded, so `out` is a NUL-terminated heap string we own.
    let text = unsafe { CStr::from_ptr(out) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: `out` was allocated by vasprintf with malloc and is not used after this.
    unsafe { libc::free(out.cast()) };
    let level = match level {
        sys::LIBBPF_WARN => "warn",
        sys::LIBBPF_INFO => "info",
        _ => "debug",
    };
    record(level, &text);
    n
}

fn record(level: &'static str, text: &str) {
    // A poisoned lock only means another thread panicked mid-push; the data is still usable.
    let handler = HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    let mut buf = BUF.lock().unwrap_or_else(|e| e.into_inner());
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if buf.lines.len() == MAX_LINES {
            buf.lines.pop_front();
            buf.first_seq += 1;
        }
        buf.lines.push_back(line.to_string());
        if let Some(h) = handler.as_ref() {
            // NonBlocking: libbpf may print from any thread, and never waits on JS.
            h.call(
                (level, line.to_string()),
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    }
}

/// Installs the print callback once per process (libbpf's printer is a global).
pub fn ensure_installed() {
    INSTALL.call_once(|| {
        // SAFETY: print_cb matches libbpf_print_fn_t and is valid for the whole process lifetime.
        unsafe { sys::libbpf_set_print(Some(print_cb)) };
    });
}

/// Sequence number of the next line to be recorded.
pub fn mark() -> u64 {
    let buf = BUF.lock().unwrap_or_else(|e| e.into_inner());
    buf.first_seq + buf.lines.len() as u64
}

/// Lines recorded since `mark` (those still in the buffer).
pub fn since(mark: u64) -> Vec<String> {
    let buf = BUF.lock().unwrap_or_else(|e| e.into_inner());
    let skip = mark.saturating_sub(buf.first_seq) as usize;
    buf.lines.iter().skip(skip).cloned().collect()
}

pub fn set_handler(env: &Env, f: Option<JsFunction>) -> Result<()> {
    ensure_installed();
    let new = match f {
        Some(f) => {
            let mut tsfn: Handler = f
                .create_threadsafe_function(
                    0,
                    |ctx: napi::threadsafe_function::ThreadSafeCallContext<(
                        &'static str,
                        String,
                    )>| { Ok(vec![ctx.value.0.to_string(), ctx.value.1]) },
                )
                .map_err(crate::errors::from_napi)?;
            // A log handler alone must not keep the process alive.
            tsfn.unref(env).map_err(crate::errors::from_napi)?;
            Some(tsfn)
        }
        None => None,
    };
    // Dropping the old handler releases its threadsafe function.
    *HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = new;
    Ok(())
}
