//! Kernel-side program run statistics (BPF_ENABLE_STATS + bpf_prog_info).

use std::cell::Cell;

use libbpf_sys as sys;
use napi_derive::napi;

use crate::errors::{self, ret_err, Result};
use crate::object::{cstr, BpfObject, State};

#[napi(object)]
pub struct ProgramStats {
    pub name: String,
    pub id: u32,
    pub run_time_ns: i64,
    pub run_count: i64,
    pub recursion_misses: i64,
}

#[napi]
impl BpfObject {
    /// One entry per loaded program; counters stay 0 unless enableRunTimeStats() is held.
    #[napi]
    pub fn program_stats(&self) -> Result<Vec<ProgramStats>> {
        self.require(State::Loaded, errors::STATS, "reading program stats")?;
        let mut out = Vec::new();
        for p in self.iter_programs()? {
            // SAFETY: p is a program of the loaded object.
            let fd = unsafe { sys::bpf_program__fd(p) };
            if fd < 0 {
                continue; // autoload was off
            }
            // SAFETY: p is live; the name outlives this copy.
            let name = cstr(unsafe { sys::bpf_program__name(p) });
            let mut info = sys::bpf_prog_info::default();
            let mut len = std::mem::size_of::<sys::bpf_prog_info>() as u32;
            // SAFETY: info is a zeroed bpf_prog_info of `len` bytes; its pointer fields are null
            // so the kernel copies no arrays.
            let r = unsafe { sys::bpf_prog_get_info_by_fd(fd, &mut info, &mut len) };
            if r != 0 {
                return Err(ret_err(
                    errors::STATS,
                    format!("reading info of program {name}"),
                    r,
                ));
            }
            out.push(ProgramStats {
                name,
                id: info.id,
                run_time_ns: info.run_time_ns as i64,
                run_count: info.run_cnt as i64,
                recursion_misses: info.recursion_misses as i64,
            });
        }
        Ok(out)
    }
}

/// Holds the fd that keeps BPF_STATS_RUN_TIME on; the kernel turns it off when the last
/// such fd closes.
#[napi]
pub struct StatsHandle {
    fd: Cell<i32>,
}

#[napi]
impl StatsHandle {
    #[napi]
    pub fn close(&self) {
        let fd = self.fd.replace(-1);
        if fd >= 0 {
            // SAFETY: fd came from bpf_enable_stats and is closed once (cell reset to -1).
            unsafe { libc::close(fd) };
        }
    }
}

impl Drop for StatsHandle {
    fn drop(&mut self) {
        self.close();
    }
}

#[napi]
pub fn enable_run_time_stats() -> Result<StatsHandle> {
    // SAFETY: plain syscall wrapper; returns an fd or a negative errno.
    let fd = unsafe { sys::bpf_enable_stats(sys::BPF_STATS_RUN_TIME) };
    if fd < 0 {
        return Err(ret_err(errors::STATS, "enabling bpf run-time stats", fd));
    }
    Ok(StatsHandle { fd: Cell::new(fd) })
}
