//! Map access by name: lookup, update, delete, key iteration. Per-CPU values use libbpf's
//! layout: possibleCpus() slots of roundUp(valueSize, 8) bytes each.

use std::ffi::c_void;

use libbpf_sys as sys;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::errors::{self, err, ret_err, Result};
use crate::object::{BpfObject, State};

fn is_percpu(t: sys::bpf_map_type) -> bool {
    matches!(
        t,
        sys::BPF_MAP_TYPE_PERCPU_HASH
            | sys::BPF_MAP_TYPE_PERCPU_ARRAY
            | sys::BPF_MAP_TYPE_LRU_PERCPU_HASH
            | sys::BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE
    )
}

pub fn possible_cpus() -> Result<usize> {
    // SAFETY: no arguments; libbpf caches the result of parsing /sys/devices/system/cpu/possible.
    let n = unsafe { sys::libbpf_num_possible_cpus() };
    if n <= 0 {
        return Err(ret_err(errors::MAP, "counting possible cpus", n));
    }
    Ok(n as usize)
}

struct MapRef {
    map: *mut sys::bpf_map,
    key_size: usize,
    value_bytes: usize,
}

impl BpfObject {
    fn map_ref(&self, name: &str, ctx: &str) -> Result<MapRef> {
        self.require(State::Loaded, errors::MAP, ctx)?;
        let map = self.map(name, errors::MAP)?;
        // SAFETY: map belongs to the loaded object.
        let (t, ks, vs) = unsafe {
            (
                sys::bpf_map__type(map),
                sys::bpf_map__key_size(map),
                sys::bpf_map__value_size(map),
            )
        };
        let vs = vs as usize;
        let value_bytes = if is_percpu(t) {
            possible_cpus()? * vs.div_ceil(8) * 8
        } else {
            vs
        };
        Ok(MapRef {
            map,
            key_size: ks as usize,
            value_bytes,
        })
    }

    fn check_key(m: &MapRef, key: &[u8], ctx: &str) -> Result<()> {
        if key.len() != m.key_size {
            return Err(err(
                errors::MAP,
                format!(
                    "{ctx}: key is {} bytes, map wants {}",
                    key.len(),
                    m.key_size
                ),
            ));
        }
        Ok(())
    }
}

#[napi]
impl BpfObject {
    /// null when the key is absent.
    #[napi]
    pub fn map_lookup(&self, map: String, key: Buffer) -> Result<Option<Buffer>> {
        let ctx = format!("looking up in map {map}");
        let m = self.map_ref(&map, &ctx)?;
        Self::check_key(&m, &key, &ctx)?;
        let mut value = vec![0u8; m.value_bytes];
        // SAFETY: key and value buffers have exactly the sizes passed; map is loaded.
        let r = unsafe {
            sys::bpf_map__lookup_elem(
                m.map,
                key.as_ptr().cast(),
                key.len() as u64,
                value.as_mut_ptr().cast(),
                value.len() as u64,
                0,
            )
        };
        match r {
            0 => Ok(Some(value.into())),
            r if r == -libc::ENOENT => Ok(None),
            r => Err(ret_err(errors::MAP, ctx, r)),
        }
    }

    #[napi]
    pub fn map_update(
        &self,
        map: String,
        key: Buffer,
        value: Buffer,
        flags: Option<u32>,
    ) -> Result<()> {
        let ctx = format!("updating map {map}");
        let m = self.map_ref(&map, &ctx)?;
        Self::check_key(&m, &key, &ctx)?;
        if value.len() != m.value_bytes {
            return Err(err(
                errors::MAP,
                format!(
                    "{ctx}: value is {} bytes, map wants {}",
                    value.len(),
                    m.value_bytes
                ),
            ));
        }
        // SAFETY: key and value buffers have exactly the sizes passed; map is loaded.
        let r = unsafe {
            sys::bpf_map__update_elem(
                m.map,
                key.as_ptr().cast(),
                key.len() as u64,
                value.as_ptr().cast(),
                value.len() as u64,
                flags.unwrap_or(0) as u64,
            )
        };
        if r != 0 {
            return Err(ret_err(errors::MAP, ctx, r));
        }
        Ok(())
    }

    /// false when the key was absent.
    #[napi]
    pub fn map_delete(&self, map: String, key: Buffer) -> Result<bool> {
        let ctx = format!("deleting from map {map}");
        let m = self.map_ref(&map, &ctx)?;
        Self::check_key(&m, &key, &ctx)?;
        // SAFETY: key has exactly key_size bytes; map is loaded.
        let r =
            unsafe { sys::bpf_map__delete_elem(m.map, key.as_ptr().cast(), key.len() as u64, 0) };
        match r {
            0 => Ok(true),
            r if r == -libc::ENOENT => Ok(false),
            r => Err(ret_err(errors::MAP, ctx, r)),
        }
    }

    #[napi]
    pub fn map_keys(&self, map: String) -> Result<Vec<Buffer>> {
        let ctx = format!("listing keys of map {map}");
        let m = self.map_ref(&map, &ctx)?;
        // SAFETY: map is loaded.
        let cap = unsafe { sys::bpf_map__max_entries(m.map) } as usize;
        let mut keys: Vec<Buffer> = Vec::new();
        let mut cur: Option<Vec<u8>> = None;
        // Bounded by max_entries: concurrent deletes can make a hash walk restart from the top.
        while keys.len() < cap {
            let mut next = vec![0u8; m.key_size];
            let prev: *const c_void = cur.as_ref().map_or(std::ptr::null(), |k| k.as_ptr().cast());
            // SAFETY: prev is null (first key) or a key_size buffer; next is key_size bytes.
            let r = unsafe {
                sys::bpf_map__get_next_key(m.map, prev, next.as_mut_ptr().cast(), m.key_size as u64)
            };
            if r == -libc::ENOENT {
                break;
            }
            if r != 0 {
                return Err(ret_err(errors::MAP, ctx, r));
            }
            keys.push(next.clone().into());
            cur = Some(next);
        }
        Ok(keys)
    }
}
