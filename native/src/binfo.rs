//! Binary introspection for probe planning: function symbols (`.symtab` and `.dynsym`)
//! with their file offsets, the executable segments (the bounds every planned offset is
//! checked against), build-id, SONAME and the Go version. Parsed with the `object` crate
//! over an mmap of the file, and cached per (dev, inode, mtime, size) so every process of
//! one binary, and every module planning in it, costs one parse. Issue 9 adds DWARF and
//! RET offsets here (gimli, iced-x86) on the same cache entry.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use napi_derive::napi;
use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSection, ObjectSymbol, SymbolKind};

use crate::errors::{err, Result};

pub const BINFO: &str = "LF_ERR_BINARY";
/// Parsed binaries kept; a node rarely runs more distinct TLS/Go binaries than this.
const CACHE_ENTRIES: usize = 64;

/// A function symbol: name, ELF address, file offset of its first byte, size.
#[derive(Clone)]
pub struct Sym {
    pub name: String,
    pub address: u64,
    pub offset: u64,
    pub size: u64,
}

/// One parsed binary (the cache entry).
pub struct Parsed {
    pub kind: &'static str,
    pub build_id: Option<String>,
    pub soname: Option<String>,
    pub go_version: Option<String>,
    /// DT_NEEDED entries (libraries the dynamic loader maps at start).
    pub needed: Vec<String>,
    /// DT_RUNPATH (or DT_RPATH), split at ':'.
    pub runpath: Vec<String>,
    /// Sorted by name, deduplicated (`.symtab` and `.dynsym` repeat each other).
    pub symbols: Vec<Sym>,
    /// File ranges (offset, size) of the executable PT_LOAD segments.
    pub text: Vec<(u64, u64)>,
    pub parse_ms: f64,
}

type Key = (u64, u64, i64, i64, u64);

struct Cache {
    map: HashMap<Key, Arc<Parsed>>,
    order: Vec<Key>,
}

fn cache() -> &'static Mutex<Cache> {
    static C: OnceLock<Mutex<Cache>> = OnceLock::new();
    C.get_or_init(|| {
        Mutex::new(Cache {
            map: HashMap::new(),
            order: Vec::new(),
        })
    })
}

/// Read-only private mapping of a whole file; unmapped on drop.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapped {
    fn open(file: &std::fs::File, len: usize) -> std::io::Result<Mapped> {
        use std::os::fd::AsRawFd;
        if len == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "empty file"));
        }
        // SAFETY: a fresh read-only private mapping of an open fd; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapped { ptr, len })
    }
    fn bytes(&self) -> &[u8] {
        // SAFETY: ptr/len describe a live mapping owned by self.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in open(), once.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Go 1.18+ build info: `\xff Go buildinf:`, ptr size, flags (bit 1: inline strings), then
/// the version as a uvarint-prefixed string at offset 32.
fn go_version(data: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\xff Go buildinf:";
    if data.len() < 33 || &data[..14] != MAGIC || data[15] & 2 == 0 {
        return None;
    }
    let (mut len, mut shift, mut i) = (0usize, 0u32, 32usize);
    loop {
        let b = *data.get(i)?;
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
    let v = data.get(i..i.checked_add(len)?)?;
    std::str::from_utf8(v).ok().map(str::to_string)
}

fn parse(data: &[u8]) -> std::result::Result<Parsed, String> {
    let started = Instant::now();
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| {
        if data.get(..4) == Some(b"\x7fELF") && data.get(4) == Some(&1) {
            "a 32-bit ELF file: only 64-bit binaries are supported".to_string()
        } else {
            format!("not a 64-bit ELF file ({e})")
        }
    })?;
    let endian = file.endian();
    let header = file.elf_header();
    let kind = match header.e_type(endian) {
        elf::ET_EXEC => "executable",
        elf::ET_DYN => {
            // A PIE executable has an interpreter; a shared library has none.
            let interp = file
                .elf_program_headers()
                .iter()
                .any(|p| p.p_type(endian) == elf::PT_INTERP);
            if interp {
                "executable"
            } else {
                "shared-library"
            }
        }
        t => return Err(format!("ELF type {t} is neither an executable nor a shared library")),
    };

    // (vaddr, memsz, file offset, filesz) of the executable PT_LOAD segments.
    let mut exec = Vec::new();
    for p in file.elf_program_headers() {
        if p.p_type(endian) == elf::PT_LOAD && p.p_flags(endian) & elf::PF_X != 0 {
            exec.push((
                p.p_vaddr(endian),
                p.p_memsz(endian),
                p.p_offset(endian),
                p.p_filesz(endian),
            ));
        }
    }
    let file_offset = |addr: u64, size: u64| -> Option<u64> {
        exec.iter().find_map(|&(va, _, off, fsz)| {
            let end = addr.checked_add(size.max(1))?;
            (addr >= va && end <= va + fsz).then(|| addr - va + off)
        })
    };

    let mut symbols = Vec::new();
    for s in file.symbols().chain(file.dynamic_symbols()) {
        if s.kind() != SymbolKind::Text || s.is_undefined() || s.address() == 0 {
            continue;
        }
        let Ok(name) = s.name() else { continue };
        if name.is_empty() {
            continue;
        }
        // Versioned dynamic names (SSL_write@@OPENSSL_3.0.0) come without the suffix here.
        if let Some(offset) = file_offset(s.address(), s.size()) {
            symbols.push(Sym {
                name: name.to_string(),
                address: s.address(),
                offset,
                size: s.size(),
            });
        }
    }
    symbols.sort_by(|a, b| a.name.cmp(&b.name).then(b.size.cmp(&a.size)));
    symbols.dedup_by(|a, b| a.name == b.name);

    let build_id = file.build_id().ok().flatten().map(hex);
    let sections = file.elf_section_table();
    let (mut soname, mut needed, mut runpath) = (None, Vec::new(), Vec::new());
    if let Ok(Some((dyns, link))) = sections.dynamic(endian, data) {
        if let Ok(strings) = sections.strings(endian, data, link) {
            let text = |d: &elf::Dyn64<Endianness>| {
                u32::try_from(d.d_val(endian))
                    .ok()
                    .and_then(|v| strings.get(v).ok())
                    .and_then(|s| std::str::from_utf8(s).ok())
                    .map(str::to_string)
            };
            for d in dyns {
                match d.d_tag(endian) as i64 {
                    elf::DT_SONAME => soname = text(d),
                    elf::DT_NEEDED => needed.extend(text(d)),
                    elf::DT_RUNPATH | elf::DT_RPATH => {
                        runpath.extend(text(d).iter().flat_map(|s| s.split(':').map(str::to_string)))
                    }
                    _ => {}
                }
            }
        }
    }
    let go = file
        .section_by_name(".go.buildinfo")
        .and_then(|s| s.data().ok())
        .and_then(go_version);

    // libc.so.6 has an interpreter too: a SONAME says shared library.
    let kind = if soname.is_some() { "shared-library" } else { kind };
    Ok(Parsed {
        kind,
        build_id,
        soname,
        go_version: go,
        needed,
        runpath,
        symbols,
        text: exec.iter().map(|&(_, _, off, fsz)| (off, fsz)).collect(),
        parse_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

/// The binary's identity and its parse, from the cache when the file is unchanged.
pub fn load(path: &str) -> Result<(Key, Arc<Parsed>, bool)> {
    let ctx = |m: String| err(BINFO, format!("reading binary {path}: {m}"));
    let f = std::fs::File::open(path).map_err(|e| ctx(e.to_string()))?;
    let md = f.metadata().map_err(|e| ctx(e.to_string()))?;
    if !md.is_file() {
        return Err(ctx("not a regular file".into()));
    }
    let key: Key = (md.dev(), md.ino(), md.mtime(), md.mtime_nsec(), md.len());
    if let Some(p) = cache().lock().unwrap_or_else(|e| e.into_inner()).map.get(&key) {
        return Ok((key, p.clone(), true));
    }
    let map = Mapped::open(&f, md.len() as usize).map_err(|e| ctx(e.to_string()))?;
    let parsed = Arc::new(parse(map.bytes()).map_err(ctx)?);
    drop(map);
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    if c.map.insert(key, parsed.clone()).is_none() {
        c.order.push(key);
        if c.order.len() > CACHE_ENTRIES {
            let old = c.order.remove(0);
            c.map.remove(&old);
        }
    }
    Ok((key, parsed, false))
}

#[napi(object)]
pub struct SymbolInfo {
    pub name: String,
    /// File offset of the first byte (what a uprobe attaches at).
    pub offset: f64,
    pub address: f64,
    pub size: f64,
}

#[napi(object)]
pub struct FileRange {
    pub offset: f64,
    pub size: f64,
}

#[napi(object)]
pub struct SymbolInterest {
    /// Exact function names.
    pub names: Option<Vec<String>>,
    /// Name prefixes (`google.golang.org/grpc.`).
    pub prefixes: Option<Vec<String>>,
}

#[napi(object)]
pub struct BinaryInfo {
    pub path: String,
    pub dev: f64,
    pub inode: f64,
    pub mtime_ns: f64,
    pub size_bytes: f64,
    #[napi(ts_type = "'executable' | 'shared-library'")]
    pub kind: String,
    pub build_id: Option<String>,
    pub soname: Option<String>,
    pub go_version: Option<String>,
    /// DT_NEEDED: libraries the dynamic loader maps at start.
    pub needed: Vec<String>,
    /// DT_RUNPATH / DT_RPATH directories.
    pub runpath: Vec<String>,
    /// Function symbols in the binary, before the interest filter.
    pub symbol_count: u32,
    /// The functions asked for by `interest` that the binary has, by name.
    pub symbols: Vec<SymbolInfo>,
    /// Executable segments: every attach offset must fall inside one.
    pub text: Vec<FileRange>,
    /// Answered from the cache (the file's dev, inode, mtime and size were unchanged).
    pub cached: bool,
    /// Time the (first) parse took.
    pub parse_ms: f64,
}

fn wanted(p: &Parsed, interest: &SymbolInterest) -> Vec<SymbolInfo> {
    let to_info = |s: &Sym| SymbolInfo {
        name: s.name.clone(),
        offset: s.offset as f64,
        address: s.address as f64,
        size: s.size as f64,
    };
    let mut out = Vec::new();
    for n in interest.names.iter().flatten() {
        if let Ok(i) = p.symbols.binary_search_by(|s| s.name.as_str().cmp(n)) {
            out.push(to_info(&p.symbols[i]));
        }
    }
    for pre in interest.prefixes.iter().flatten() {
        let start = p.symbols.partition_point(|s| s.name.as_str() < pre.as_str());
        out.extend(
            p.symbols[start..]
                .iter()
                .take_while(|s| s.name.starts_with(pre.as_str()))
                .map(to_info),
        );
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// What a planner needs from a binary: identity, kind, build-id, SONAME, Go version, the
/// executable segments, and the function symbols named in `interest` (all of them when
/// `interest` is absent). Throws LF_ERR_BINARY naming the file and the reason.
#[napi]
pub fn read_binary_info(path: String, interest: Option<SymbolInterest>) -> Result<BinaryInfo> {
    let ((dev, ino, mt, mt_ns, len), p, cached) = load(&path)?;
    let symbols = match &interest {
        Some(i) => wanted(&p, i),
        None => p
            .symbols
            .iter()
            .map(|s| SymbolInfo {
                name: s.name.clone(),
                offset: s.offset as f64,
                address: s.address as f64,
                size: s.size as f64,
            })
            .collect(),
    };
    Ok(BinaryInfo {
        path,
        dev: dev as f64,
        inode: ino as f64,
        mtime_ns: mt as f64 * 1e9 + mt_ns as f64,
        size_bytes: len as f64,
        kind: p.kind.to_string(),
        build_id: p.build_id.clone(),
        soname: p.soname.clone(),
        go_version: p.go_version.clone(),
        needed: p.needed.clone(),
        runpath: p.runpath.clone(),
        symbol_count: p.symbols.len() as u32,
        symbols,
        text: p
            .text
            .iter()
            .map(|&(o, s)| FileRange {
                offset: o as f64,
                size: s as f64,
            })
            .collect(),
        cached,
        parse_ms: p.parse_ms,
    })
}

/// Forgets every cached parse (benchmarks measure cold parses with it).
#[napi]
pub fn clear_binary_cache() {
    let mut c = cache().lock().unwrap_or_else(|e| e.into_inner());
    c.map.clear();
    c.order.clear();
}
