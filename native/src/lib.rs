//! lightfoot's native addon: libbpf (vendored, linked statically) exposed to Node via napi-rs.
//! Also hosts the WebAssembly decoder engine (wasmtime, src/wasm/).
//! The JS contract is docs/native-api.md.

mod attach;
mod binfo;
mod btf;
mod errors;
mod log;
mod maps;
mod object;
mod ringbuf;
mod stats;
mod wasm;

use std::ffi::CString;

use napi::{Env, JsFunction};
use napi_derive::napi;

use crate::errors::{err, os_err, Result};

#[napi]
pub fn possible_cpus() -> Result<u32> {
    Ok(maps::possible_cpus()? as u32)
}

/// "major.minor" of the libbpf linked into this addon.
#[napi]
pub fn libbpf_version() -> String {
    // SAFETY: plain getters without arguments.
    let (major, minor) = unsafe {
        (
            libbpf_sys::libbpf_major_version(),
            libbpf_sys::libbpf_minor_version(),
        )
    };
    format!("{major}.{minor}")
}

#[napi(ts_args_type = "fn: ((level: 'warn' | 'info' | 'debug', line: string) => void) | null")]
pub fn set_log_handler(env: Env, f: Option<JsFunction>) -> Result<()> {
    log::set_handler(&env, f)
}

/// `mount -t tracefs nodev <path>`.
#[napi]
pub fn mount_tracefs(path: String) -> Result<()> {
    let p = CString::new(path.as_str())
        .map_err(|_| err(errors::MOUNT, "tracefs path contains a nul byte"))?;
    // SAFETY: all pointers are valid NUL-terminated strings; data is null for tracefs defaults.
    let r = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            p.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if r != 0 {
        return Err(os_err(errors::MOUNT, format!("mounting tracefs on {path}")));
    }
    Ok(())
}
