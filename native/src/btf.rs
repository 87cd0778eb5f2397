//! Finds a global variable's place in the .rodata image through the object's BTF.

use libbpf_sys as sys;

use crate::object::cstr;

/// (offset, size) of variable `name` in the `.rodata` DATASEC, or why it can't be found.
pub fn rodata_var(obj: *mut sys::bpf_object, name: &str) -> Result<(usize, usize), String> {
    // SAFETY: obj is an open bpf_object; the returned btf lives as long as obj.
    let btf = unsafe { sys::bpf_object__btf(obj) };
    if btf.is_null() {
        return Err("object has no btf".into());
    }
    // SAFETY: btf is valid and the name is a NUL-terminated literal.
    let sec_id =
        unsafe { sys::btf__find_by_name_kind(btf, c".rodata".as_ptr(), sys::BTF_KIND_DATASEC) };
    if sec_id < 0 {
        return Err("no such variable (object has no .rodata section)".into());
    }
    // SAFETY: sec_id was just returned by the same btf.
    let sec = unsafe { sys::btf__type_by_id(btf, sec_id as u32) };
    if sec.is_null() {
        return Err("broken btf for .rodata".into());
    }
    // SAFETY: sec points to a valid btf_type; the low 16 bits of info are vlen.
    let vlen = unsafe { (*sec).info } & 0xffff;
    // A DATASEC's btf_var_secinfo array follows its btf_type header directly (BTF format).
    // SAFETY: sec is a DATASEC, so vlen secinfo records follow the header inside the BTF blob.
    let infos = unsafe {
        std::slice::from_raw_parts(sec.add(1).cast::<sys::btf_var_secinfo>(), vlen as usize)
    };
    for si in infos {
        // SAFETY: si.type_ is a type id from the same btf.
        let var = unsafe { sys::btf__type_by_id(btf, si.type_) };
        if var.is_null() {
            continue;
        }
        // SAFETY: var is a valid btf_type; name_off indexes the same btf's string section.
        let var_name = cstr(unsafe { sys::btf__name_by_offset(btf, (*var).name_off) });
        if var_name == name {
            return Ok((si.offset as usize, si.size as usize));
        }
    }
    Err("no such variable in .rodata (is it a `const volatile` global?)".into())
}
