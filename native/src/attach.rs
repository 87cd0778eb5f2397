//! Attaching programs: by section, tracepoint, raw tracepoint, uprobe, cgroup.
//! Each attachment is a Link that the BpfObject also tracks, so close() detaches it.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use libbpf_sys as sys;
use napi::bindgen_prelude::BigInt;
use napi_derive::napi;

use crate::errors::{self, err, os_err, Result};
use crate::object::{cstring, BpfObject, State};

pub struct LinkInner {
    link: Cell<*mut sys::bpf_link>,
}

impl LinkInner {
    pub fn destroy(&self) {
        let l = self.link.replace(std::ptr::null_mut());
        if !l.is_null() {
            // SAFETY: l came from a bpf_program__attach* call and is destroyed once (cell nulled).
            unsafe { sys::bpf_link__destroy(l) };
        }
    }
}

impl Drop for LinkInner {
    fn drop(&mut self) {
        self.destroy();
    }
}

#[napi]
pub struct Link {
    inner: Rc<LinkInner>,
}

#[napi]
impl Link {
    /// Detaches now. Idempotent; close() of the object does it for links still attached.
    #[napi]
    pub fn destroy(&self) {
        self.inner.destroy();
    }
}

#[napi(object)]
pub struct UprobeOptions {
    pub binary_path: String,
    pub func_name: Option<String>,
    pub offset: Option<i64>,
    pub pid: Option<i32>,
    pub retprobe: Option<bool>,
    pub cookie: Option<BigInt>,
}

#[napi]
impl BpfObject {
    /// Attach by the program's section (tp_btf/, raw_tp/, tp/, uprobe/…).
    #[napi]
    pub fn attach(&mut self, program: String) -> Result<Link> {
        let ctx = format!("attaching {program}");
        let p = self.attachable(&program, &ctx)?;
        // SAFETY: p is a program of the loaded object.
        let l = unsafe { sys::bpf_program__attach(p) };
        self.track(l, ctx)
    }

    #[napi]
    pub fn attach_tracepoint(
        &mut self,
        program: String,
        category: String,
        name: String,
    ) -> Result<Link> {
        let ctx = format!("attaching {program} to tracepoint {category}:{name}");
        let p = self.attachable(&program, &ctx)?;
        let c = cstring(errors::ATTACH, "category", &category)?;
        let n = cstring(errors::ATTACH, "tracepoint", &name)?;
        // SAFETY: p is a loaded program; c and n are valid C strings for the call.
        let l = unsafe { sys::bpf_program__attach_tracepoint(p, c.as_ptr(), n.as_ptr()) };
        self.track(l, ctx)
    }

    #[napi]
    pub fn attach_raw_tracepoint(&mut self, program: String, name: String) -> Result<Link> {
        let ctx = format!("attaching {program} to raw tracepoint {name}");
        let p = self.attachable(&program, &ctx)?;
        let n = cstring(errors::ATTACH, "tracepoint", &name)?;
        // SAFETY: p is a loaded program; n is a valid C string for the call.
        let l = unsafe { sys::bpf_program__attach_raw_tracepoint(p, n.as_ptr()) };
        self.track(l, ctx)
    }

    #[napi]
    pub fn attach_uprobe(&mut self, program: String, opts: UprobeOptions) -> Result<Link> {
        let what = if opts.retprobe.unwrap_or(false) {
            "uretprobe"
        } else {
            "uprobe"
        };
        let target = match (&opts.func_name, opts.offset) {
            (Some(f), Some(o)) => format!("{f}+{o:#x}"),
            (Some(f), None) => f.clone(),
            (None, Some(o)) => format!("{o:#x}"),
            (None, None) => "?".into(),
        };
        let ctx = format!(
            "attaching {what} {target} in {} ({program})",
            opts.binary_path
        );
        if opts.func_name.is_none() && opts.offset.is_none() {
            return Err(err(
                errors::ATTACH,
                format!("{ctx}: give funcName or offset"),
            ));
        }
        let offset = opts.offset.unwrap_or(0);
        if offset < 0 {
            return Err(err(errors::ATTACH, format!("{ctx}: negative offset")));
        }
        let cookie = match &opts.cookie {
            Some(b) => {
                let (neg, v, lossless) = b.get_u64();
                if neg || !lossless {
                    return Err(err(
                        errors::ATTACH,
                        format!("{ctx}: cookie must fit in a u64"),
                    ));
                }
                v
            }
            None => 0,
        };
        let p = self.attachable(&program, &ctx)?;
        let path = cstring(errors::ATTACH, "binary path", &opts.binary_path)?;
        let func = opts
            .func_name
            .as_deref()
            .map(|f| cstring(errors::ATTACH, "function", f))
            .transpose()?;
        let uo = sys::bpf_uprobe_opts {
            sz: std::mem::size_of::<sys::bpf_uprobe_opts>() as u64,
            bpf_cookie: cookie,
            retprobe: opts.retprobe.unwrap_or(false),
            func_name: func.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
            ..Default::default()
        };
        let pid = opts.pid.unwrap_or(-1);
        // SAFETY: p is loaded; path/func outlive the call; uo.sz is set for libbpf's opts ABI.
        let l = unsafe {
            sys::bpf_program__attach_uprobe_opts(p, pid, path.as_ptr(), offset as u64, &uo)
        };
        self.track(l, ctx)
    }

    /// Runs an iterator program (SEC("iter/…")) once, to the end, and returns what it
    /// wrote with bpf_seq_write. Nothing stays attached afterwards. `map` names the map
    /// a map iterator walks (iter/bpf_map_elem, iter/bpf_sk_storage_map).
    #[napi]
    pub fn run_iterator(
        &mut self,
        program: String,
        map: Option<String>,
    ) -> Result<napi::bindgen_prelude::Buffer> {
        let ctx = format!("running iterator {program}");
        let p = self.attachable(&program, &ctx)?;
        let mut info = sys::bpf_iter_link_info::default();
        let mut opts = sys::bpf_iter_attach_opts {
            sz: std::mem::size_of::<sys::bpf_iter_attach_opts>() as _,
            ..Default::default()
        };
        if let Some(m) = map {
            let m = self.map(&m, errors::ATTACH)?;
            // SAFETY: m is a map of this loaded object.
            info.map.map_fd = unsafe { sys::bpf_map__fd(m) } as u32;
            opts.link_info = &mut info;
            opts.link_info_len = std::mem::size_of::<sys::bpf_iter_link_info>() as u32;
        }
        // SAFETY: p is a loaded iterator program; opts and info outlive the call.
        let l = unsafe { sys::bpf_program__attach_iter(p, &opts) };
        if l.is_null() {
            return Err(os_err(errors::ATTACH, ctx));
        }
        // SAFETY: l is a live link from the call above.
        let fd = unsafe { sys::bpf_iter_create(sys::bpf_link__fd(l)) };
        let mut out = Vec::new();
        let result = if fd < 0 {
            Err(os_err(errors::ATTACH, &ctx))
        } else {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: fd is the iterator fd; buf is writable for its length.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                        continue;
                    }
                    break Err(os_err(errors::ATTACH, &ctx));
                }
                if n == 0 {
                    break Ok(());
                }
                out.extend_from_slice(&buf[..n as usize]);
            }
        };
        if fd >= 0 {
            // SAFETY: fd was returned by bpf_iter_create and is closed once.
            unsafe { libc::close(fd) };
        }
        // SAFETY: l came from bpf_program__attach_iter and is destroyed once.
        unsafe { sys::bpf_link__destroy(l) };
        result.map(|()| out.into())
    }

    #[napi]
    pub fn attach_cgroup(&mut self, program: String, cgroup_path: String) -> Result<Link> {
        let ctx = format!("attaching {program} to cgroup {cgroup_path}");
        let p = self.attachable(&program, &ctx)?;
        let dir = std::fs::File::open(&cgroup_path).map_err(|e| {
            err(
                errors::ATTACH,
                format!(
                    "{ctx}: {}",
                    errors::errno_text(e.raw_os_error().unwrap_or(libc::EIO))
                ),
            )
        })?;
        // SAFETY: p is loaded; the cgroup fd is open for the call (the link keeps its own reference).
        let l = unsafe { sys::bpf_program__attach_cgroup(p, dir.as_raw_fd()) };
        self.track(l, ctx)
    }
}

impl BpfObject {
    fn attachable(&self, program: &str, ctx: &str) -> Result<*mut sys::bpf_program> {
        self.require(State::Loaded, errors::ATTACH, ctx)?;
        let p = self.program(program, errors::ATTACH)?;
        // SAFETY: p is a program of the loaded object.
        if unsafe { sys::bpf_program__fd(p) } < 0 {
            return Err(err(
                errors::ATTACH,
                format!("{ctx}: program was not loaded (autoload off?)"),
            ));
        }
        Ok(p)
    }

    fn track(&mut self, l: *mut sys::bpf_link, ctx: String) -> Result<Link> {
        if l.is_null() {
            return Err(os_err(errors::ATTACH, ctx));
        }
        // Forget links JS already destroyed so the list doesn't grow without bound.
        self.links.retain(|k| !k.link.get().is_null());
        let inner = Rc::new(LinkInner { link: Cell::new(l) });
        self.links.push(inner.clone());
        Ok(Link { inner })
    }
}
