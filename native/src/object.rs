//! BpfObject: open an ELF, inspect and configure it, load it, close it.
//! Attach, map and ring-buffer methods live in their own modules as further impl blocks.

use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::rc::Rc;

use libbpf_sys as sys;
use napi::bindgen_prelude::Buffer;
use napi::{Env, JsObject};
use napi_derive::napi;

use crate::attach::LinkInner;
use crate::errors::{self, err, os_err, ret_err, Result};
use crate::ringbuf::ReaderCtl;

/// How much of libbpf's output a load error quotes.
const LOAD_TAIL_LINES: usize = 60;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum State {
    Opened,
    Loaded,
    /// libbpf leaves a half-loaded object behind; the caller must close() and re-open.
    LoadFailed,
    Closed,
}

#[napi(object)]
pub struct ProgramInfo {
    pub name: String,
    pub section: String,
    #[napi(js_name = "type")]
    pub prog_type: String,
    pub autoload: bool,
}

#[napi(object)]
pub struct MapInfo {
    pub name: String,
    #[napi(js_name = "type")]
    pub map_type: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

#[napi]
pub struct BpfObject {
    pub(crate) obj: *mut sys::bpf_object,
    pub(crate) path: String,
    pub(crate) state: State,
    /// Shared with the JS Link objects so close() can destroy links JS still holds.
    pub(crate) links: Vec<Rc<LinkInner>>,
    pub(crate) readers: Vec<Rc<RefCell<ReaderCtl>>>,
}

pub(crate) fn cstring(code: &str, what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| err(code, format!("{what} {s:?} contains a nul byte")))
}

/// Copies a C string owned by libbpf; null becomes "".
pub(crate) fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: libbpf returns NUL-terminated strings that live as long as the object.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

#[napi]
impl BpfObject {
    #[napi(factory)]
    pub fn open(path: String) -> Result<BpfObject> {
        crate::log::ensure_installed();
        let c = cstring(errors::OPEN, "path", &path)?;
        // SAFETY: c is a valid C string; null opts means libbpf defaults.
        let obj = unsafe { sys::bpf_object__open_file(c.as_ptr(), std::ptr::null()) };
        if obj.is_null() {
            return Err(os_err(errors::OPEN, format!("opening {path}")));
        }
        Ok(BpfObject {
            obj,
            path,
            state: State::Opened,
            links: Vec::new(),
            readers: Vec::new(),
        })
    }

    #[napi]
    pub fn programs(&self) -> Result<Vec<ProgramInfo>> {
        let mut out = Vec::new();
        for p in self.iter_programs()? {
            // SAFETY: p is a live program of self.obj, which is open.
            unsafe {
                out.push(ProgramInfo {
                    name: cstr(sys::bpf_program__name(p)),
                    section: cstr(sys::bpf_program__section_name(p)),
                    prog_type: cstr(sys::libbpf_bpf_prog_type_str(sys::bpf_program__type(p))),
                    autoload: sys::bpf_program__autoload(p),
                });
            }
        }
        Ok(out)
    }

    #[napi]
    pub fn maps(&self) -> Result<Vec<MapInfo>> {
        let mut out = Vec::new();
        for m in self.iter_maps()? {
            // SAFETY: m is a live map of self.obj, which is open.
            unsafe {
                out.push(MapInfo {
                    name: cstr(sys::bpf_map__name(m)),
                    map_type: cstr(sys::libbpf_bpf_map_type_str(sys::bpf_map__type(m))),
                    key_size: sys::bpf_map__key_size(m),
                    value_size: sys::bpf_map__value_size(m),
                    max_entries: sys::bpf_map__max_entries(m),
                });
            }
        }
        Ok(out)
    }

    /// Writes a `const volatile` global's initial value in the .rodata image.
    #[napi]
    pub fn set_constant(&mut self, name: String, value: Buffer) -> Result<()> {
        let ctx = format!("setting constant {name}");
        self.require(State::Opened, errors::CONFIG, &ctx)?;
        let (off, size) = crate::btf::rodata_var(self.obj, &name)
            .map_err(|why| err(errors::CONFIG, format!("{ctx}: {why}")))?;
        if value.len() != size {
            return Err(err(
                errors::CONFIG,
                format!("{ctx}: value is {} bytes, variable is {size}", value.len()),
            ));
        }
        let map = self
            .iter_maps()?
            .into_iter()
            // SAFETY: m is a live map of the open object.
            .find(|&m| unsafe { sys::bpf_map__is_internal(m) } && cstr(unsafe { sys::bpf_map__name(m) }).ends_with(".rodata"))
            .ok_or_else(|| err(errors::CONFIG, format!("{ctx}: object has no .rodata map")))?;
        let mut len: u64 = 0;
        // SAFETY: map is live; before load libbpf returns its writable initial-value image.
        let data = unsafe { sys::bpf_map__initial_value(map, &mut len) };
        if data.is_null() || (off + size) as u64 > len {
            return Err(err(
                errors::CONFIG,
                format!("{ctx}: .rodata image too small"),
            ));
        }
        // SAFETY: [off, off+size) lies inside the len-byte image checked above; regions don't overlap.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), data.cast::<u8>().add(off), size) };
        Ok(())
    }

    #[napi]
    pub fn set_autoload(&mut self, program: String, enabled: bool) -> Result<()> {
        let ctx = format!("setting autoload of {program}");
        self.require(State::Opened, errors::CONFIG, &ctx)?;
        let p = self.program(&program, errors::CONFIG)?;
        // SAFETY: p is a live program of the open, not yet loaded object.
        let r = unsafe { sys::bpf_program__set_autoload(p, enabled) };
        if r != 0 {
            return Err(ret_err(errors::CONFIG, ctx, r));
        }
        Ok(())
    }

    #[napi]
    pub fn set_max_entries(&mut self, map: String, n: u32) -> Result<()> {
        let ctx = format!("setting max entries of {map}");
        self.require(State::Opened, errors::CONFIG, &ctx)?;
        let m = self.map(&map, errors::CONFIG)?;
        // SAFETY: m is a live map of the open, not yet loaded object.
        let r = unsafe { sys::bpf_map__set_max_entries(m, n) };
        if r != 0 {
            return Err(ret_err(errors::CONFIG, ctx, r));
        }
        Ok(())
    }

    /// On failure throws LF_ERR_LOAD with the tail of libbpf's output (verifier log included)
    /// and `failedProgram`. The object is then unusable: close() it and open() it again.
    #[napi]
    pub fn load(&mut self, env: Env) -> Result<()> {
        self.require(State::Opened, errors::LOAD, "loading")?;
        let mark = crate::log::mark();
        // SAFETY: self.obj is open and not loaded (checked above).
        let r = unsafe { sys::bpf_object__load(self.obj) };
        if r == 0 {
            self.state = State::Loaded;
            return Ok(());
        }
        self.state = State::LoadFailed;
        let lines = crate::log::since(mark);
        let failed = failed_program(&lines);
        let tail = &lines[lines.len().saturating_sub(LOAD_TAIL_LINES)..];
        let msg = format!(
            "loading {}: {}\nverifier log (tail):\n{}",
            self.path,
            errors::errno_text(r),
            tail.join("\n")
        );
        throw_load_error(&env, msg, failed)
    }

    /// Stops ring readers, destroys links, closes every fd. Idempotent.
    #[napi]
    pub fn close(&mut self) {
        for r in self.readers.drain(..) {
            r.borrow_mut().stop();
        }
        for l in self.links.drain(..) {
            l.destroy();
        }
        if !self.obj.is_null() {
            // SAFETY: obj came from bpf_object__open_file and is closed exactly once (nulled next).
            unsafe { sys::bpf_object__close(self.obj) };
            self.obj = std::ptr::null_mut();
        }
        self.state = State::Closed;
    }
}

impl Drop for BpfObject {
    /// Runs when JS garbage-collects an object it never closed.
    fn drop(&mut self) {
        self.close();
    }
}

impl BpfObject {
    pub(crate) fn require(&self, want: State, code: &str, ctx: &str) -> Result<()> {
        if self.state == want {
            return Ok(());
        }
        let why = match self.state {
            State::Closed => "object is closed",
            State::LoadFailed => "object failed to load; close() it and open() it again",
            State::Loaded => "object is already loaded",
            State::Opened => "object is not loaded yet",
        };
        let code = if self.state == State::Closed {
            errors::CLOSED
        } else {
            code
        };
        Err(err(code, format!("{ctx}: {why}")))
    }

    /// Open or loaded (inspection works in both).
    fn live(&self) -> Result<()> {
        if self.obj.is_null() {
            return Err(err(errors::CLOSED, "object is closed"));
        }
        Ok(())
    }

    pub(crate) fn iter_programs(&self) -> Result<Vec<*mut sys::bpf_program>> {
        self.live()?;
        let mut out = Vec::new();
        let mut p = std::ptr::null_mut();
        loop {
            // SAFETY: obj is open; p is null or the previous program of the same object.
            p = unsafe { sys::bpf_object__next_program(self.obj, p) };
            if p.is_null() {
                return Ok(out);
            }
            out.push(p);
        }
    }

    pub(crate) fn iter_maps(&self) -> Result<Vec<*mut sys::bpf_map>> {
        self.live()?;
        let mut out = Vec::new();
        let mut m = std::ptr::null_mut();
        loop {
            // SAFETY: obj is open; m is null or the previous map of the same object.
            m = unsafe { sys::bpf_object__next_map(self.obj, m) };
            if m.is_null() {
                return Ok(out);
            }
            out.push(m);
        }
    }

    pub(crate) fn program(&self, name: &str, code: &str) -> Result<*mut sys::bpf_program> {
        self.live()?;
        let c = cstring(code, "program name", name)?;
        // SAFETY: obj is open and c is a valid C string.
        let p = unsafe { sys::bpf_object__find_program_by_name(self.obj, c.as_ptr()) };
        if p.is_null() {
            return Err(err(
                code,
                format!("no program named {name} in {}", self.path),
            ));
        }
        Ok(p)
    }

    pub(crate) fn map(&self, name: &str, code: &str) -> Result<*mut sys::bpf_map> {
        self.live()?;
        let c = cstring(code, "map name", name)?;
        // SAFETY: obj is open and c is a valid C string.
        let m = unsafe { sys::bpf_object__find_map_by_name(self.obj, c.as_ptr()) };
        if m.is_null() {
            return Err(err(code, format!("no map named {name} in {}", self.path)));
        }
        Ok(m)
    }
}

/// libbpf names the culprit in lines like `libbpf: prog 'NAME': failed to load: -13`;
/// the last such line wins.
pub(crate) fn failed_program(lines: &[String]) -> Option<String> {
    lines.iter().rev().find_map(|l| {
        let rest = &l[l.find("prog '")? + 6..];
        let name = &rest[..rest.find('\'')?];
        let after = &rest[name.len()..];
        (after.contains("fail") || after.contains("BEGIN PROG LOAD LOG")).then(|| name.to_string())
    })
}

/// Throws a JS Error with `code` and `failedProgram` set, then tells napi-rs the exception
/// is already pending (it then throws nothing else).
fn throw_load_error(env: &Env, msg: String, failed: Option<String>) -> Result<()> {
    let build = || -> napi::Result<JsObject> {
        let mut e =
            env.create_error(napi::Error::new(napi::Status::GenericFailure, msg.clone()))?;
        e.set_named_property("code", env.create_string(errors::LOAD)?)?;
        match &failed {
            Some(f) => e.set_named_property("failedProgram", env.create_string(f)?)?,
            None => e.set_named_property("failedProgram", env.get_undefined()?)?,
        }
        Ok(e)
    };
    match build().and_then(|e| env.throw(e)) {
        Ok(()) => Err(napi::Error::new(
            napi::Status::PendingException.as_ref().to_string(),
            String::new(),
        )),
        Err(_) => Err(err(errors::LOAD, msg)),
    }
}
