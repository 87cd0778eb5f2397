//! Error type shared by every export: a JS `Error` whose `code` is an `LF_ERR_*` string
//! and whose message is a lower-case chain of context.

use std::ffi::CStr;

/// napi-rs sets the JS `code` property from the status string, so the status *is* our code.
pub type Result<T> = napi::Result<T, String>;

pub const OPEN: &str = "LF_ERR_OPEN";
pub const CONFIG: &str = "LF_ERR_CONFIG";
pub const LOAD: &str = "LF_ERR_LOAD";
pub const ATTACH: &str = "LF_ERR_ATTACH";
pub const MAP: &str = "LF_ERR_MAP";
pub const RINGBUF: &str = "LF_ERR_RINGBUF";
pub const STATS: &str = "LF_ERR_STATS";
pub const MOUNT: &str = "LF_ERR_MOUNT";
pub const CLOSED: &str = "LF_ERR_CLOSED";
// WebAssembly decoder engine (src/wasm/).
pub const WASM_INVALID: &str = "LF_ERR_WASM_INVALID";
pub const WASM_IMPORT: &str = "LF_ERR_WASM_IMPORT";
pub const WASM_WORLD: &str = "LF_ERR_WASM_WORLD";
pub const DECODER_FAULT: &str = "LF_ERR_DECODER_FAULT";
pub const DECODE: &str = "LF_ERR_DECODE";

pub fn err(code: &str, msg: impl Into<String>) -> napi::Error<String> {
    napi::Error::new(code.to_string(), msg.into())
}

/// Human text for an errno, lower-cased to fit the message chain style.
pub fn errno_text(errno: i32) -> String {
    let errno = errno.abs();
    // SAFETY: strerror returns a pointer to a static or thread-local NUL-terminated string.
    let s = unsafe { CStr::from_ptr(libc::strerror(errno)) }
        .to_string_lossy()
        .into_owned();
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => format!("errno {errno}"),
    }
}

/// The errno left behind by the last failing libc/libbpf call on this thread.
pub fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `context: <errno text>` from the thread's current errno.
pub fn os_err(code: &str, context: impl AsRef<str>) -> napi::Error<String> {
    err(
        code,
        format!("{}: {}", context.as_ref(), errno_text(last_errno())),
    )
}

/// `context: <errno text>` for a libbpf return value (negative errno).
pub fn ret_err(code: &str, context: impl AsRef<str>, ret: i32) -> napi::Error<String> {
    err(code, format!("{}: {}", context.as_ref(), errno_text(ret)))
}

/// napi-internal failures (creating buffers, threadsafe functions) keep their own status text.
pub fn from_napi(e: napi::Error) -> napi::Error<String> {
    napi::Error::new(e.status.as_ref().to_string(), e.reason)
}
