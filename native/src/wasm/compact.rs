//! The compact form of a decode-output (docs/native-api.md, "decodeCompact"): metric
//! updates as columns with interned strings, log events with their fields already
//! rendered as JSON text. Built off the main thread for decodeCompactAsync; only
//! `to_js` touches napi.
//!
//! Log-event rules (the host's, runtime/decoders/log-events.ts): message 1..256
//! characters, ≤ 64 fields, key 1..64 characters, string values ≤ 4096 characters
//! (characters = UTF-16 code units, as JS counts them). A log-event breaking one is
//! dropped and counted in `invalidLogs`. Reserved keys are written as `field_<key>`;
//! integers beyond ±2^53 and non-finite floats as JSON strings; an integer field
//! `tsNs` goes to the `tsNs` column instead of the JSON text.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use napi::{Env, JsObject, JsUnknown, Result, TypedArrayType};

use super::lift::{self, AStr};

const MAX_SAFE: u64 = 1 << 53;
const MESSAGE_LEN: usize = 256;
const MAX_FIELDS: usize = 64;
const KEY_LEN: usize = 64;
const STRING_LEN: usize = 4096;
const RESERVED: [&str; 7] = ["event", "decoder", "level", "connection", "annotations", "ts", "time"];

/// FxHash: the interner hashes ~1,500 short label strings per call; SipHash costs too much.
#[derive(Default)]
struct Fx(u64);
impl Hasher for Fx {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut b = bytes;
        while b.len() >= 8 {
            let w = u64::from_le_bytes(b[..8].try_into().unwrap());
            h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
            b = &b[8..];
        }
        for &x in b {
            h = (h.rotate_left(5) ^ u64::from(x)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
        self.0 = h;
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

struct Interner<'a> {
    arena: &'a [u8],
    map: HashMap<&'a str, u32, BuildHasherDefault<Fx>>,
    order: Vec<AStr>,
}

impl<'a> Interner<'a> {
    #[inline]
    fn add(&mut self, s: AStr) -> u32 {
        let text = s.get(self.arena);
        if let Some(&i) = self.map.get(text) {
            return i;
        }
        let i = self.order.len() as u32;
        self.map.insert(text, i);
        self.order.push(s);
        i
    }
}

#[derive(Default)]
pub struct Compact {
    /// Every string of the output, as lifted (lift.rs); `strings` and the rest point in.
    arena: Vec<u8>,
    strings: Vec<AStr>,
    metric: Vec<u32>,
    op: Vec<u8>,
    value: Vec<f64>,
    label_start: Vec<u32>,
    label_idx: Vec<u32>,
    log_level: Vec<u8>,
    log_message: Vec<u32>,
    log_connection: Vec<u64>,
    log_ts: Vec<u64>,
    /// All logs' fields JSON, back to back; log i ends at fields_end[i].
    fields_buf: String,
    fields_end: Vec<u32>,
    invalid_logs: u32,
    annotations: Vec<(u64, String, String)>,
    streams: Vec<lift::StreamProgress>,
}

/// Length in UTF-16 code units is ≤ the UTF-8 length: only long strings need counting.
#[inline]
fn utf16_len_within(s: &str, max: usize) -> bool {
    s.len() <= max || s.encode_utf16().count() <= max
}

/// How many bytes escaping adds to `s` in JSON (json_str), quotes not counted.
pub fn json_extra(s: &str) -> usize {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum()
}

/// Appends `s` as a JSON string, escaped exactly as JSON.stringify does.
pub fn json_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // No early exit: the compiler vectorizes the scan.
    let needs = bytes
        .iter()
        .fold(false, |m, &b| m | (b < 0x20) | (b == b'"') | (b == b'\\'));
    if !needs {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// A finite f64 as JS's Number.prototype.toString writes it (and so JSON.stringify).
pub fn js_number(out: &mut String, f: f64) {
    if f == 0.0 {
        out.push('0'); // -0 too
        return;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f.abs() < 1.8e19 {
            if f < 0.0 {
                out.push('-');
            }
            push_u64(out, f.abs() as u64);
        } else {
            let _ = write!(out, "{}", f as i128);
        }
        return;
    }
    // Shortest round-trip digits: "d.ddddde<exp>".
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mant) = match mant.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mant),
    };
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1; // position of the decimal point
    if neg {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { "+" } else { "-" }, e.abs());
    }
}

/// Decimal digits of `v` (core::fmt is slow for the many small integers of log fields).
fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // SAFETY: ASCII digits.
    out.push_str(unsafe { std::str::from_utf8_unchecked(&buf[i..]) });
}

fn push_i64(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    push_u64(out, v.unsigned_abs());
}

fn value_json(out: &mut String, v: &FieldVal<'_>) {
    match v {
        FieldVal::Str(s) => json_str(out, s),
        FieldVal::Int(i) if i.unsigned_abs() <= MAX_SAFE => push_i64(out, *i),
        FieldVal::Int(i) => {
            out.push('"');
            push_i64(out, *i);
            out.push('"');
        }
        FieldVal::Uint(u) if *u <= MAX_SAFE => push_u64(out, *u),
        FieldVal::Uint(u) => {
            out.push('"');
            push_u64(out, *u);
            out.push('"');
        }
        FieldVal::Float(f) if f.is_finite() => js_number(out, *f),
        FieldVal::Float(f) if f.is_nan() => out.push_str("\"NaN\""),
        FieldVal::Float(f) if *f > 0.0 => out.push_str("\"Infinity\""),
        FieldVal::Float(_) => out.push_str("\"-Infinity\""),
        FieldVal::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
    }
}

/// `a == b` for a short literal `b`, without a call to memcmp (inlined and unrolled).
#[inline(always)]
fn eq_lit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut d = 0u8;
    for i in 0..b.len() {
        d |= a[i] ^ b[i];
    }
    d == 0
}

#[inline]
fn is_reserved(k: &str) -> bool {
    // By length first: most keys are none of them (RESERVED, spelled out).
    match k.len() {
        2 => eq_lit(k, RESERVED[5]),
        4 => eq_lit(k, RESERVED[6]),
        5 => eq_lit(k, RESERVED[0]) || eq_lit(k, RESERVED[2]),
        7 => eq_lit(k, RESERVED[1]),
        10 => eq_lit(k, RESERVED[3]),
        11 => eq_lit(k, RESERVED[4]),
        _ => false,
    }
}

/// The key as written: reserved ones get the `field_` prefix.
fn written_key(k: &str) -> std::borrow::Cow<'_, str> {
    if is_reserved(k) {
        std::borrow::Cow::Owned(format!("field_{k}"))
    } else {
        std::borrow::Cow::Borrowed(k)
    }
}

/// Cheap fingerprint of a written key to find duplicates without comparing every pair.
#[inline]
fn key_bit(k: &str) -> u64 {
    let b = k.as_bytes();
    let h = (b.len() as u64)
        .wrapping_mul(31)
        .wrapping_add(u64::from(b[0]))
        .wrapping_mul(31)
        .wrapping_add(u64::from(b[b.len() - 1]));
    1u64 << (h % 64)
}

/// Renders the fields (already checked); returns the tsNs value (0 when none).
/// Duplicate keys behave as in a JS object: first position, last value.
fn render_fields<'a>(out: &mut String, fields: &[FieldRef<'a>]) -> u64 {
    let key = |f: &FieldRef<'a>| -> &'a str { f.key };
    // Fast path: no duplicate written keys (fingerprints all distinct, or collisions that
    // turn out to be different keys).
    let mut seen = 0u64;
    let mut dup = false;
    for (i, f) in fields.iter().enumerate() {
        let bit = key_bit(key(f));
        if seen & bit != 0 {
            let wk = written_key(key(f));
            if fields[..i].iter().any(|g| written_key(key(g)) == wk) {
                dup = true;
                break;
            }
        }
        seen |= bit;
    }
    let ts_of = |v: &FieldVal<'_>| -> Option<u64> {
        match v {
            FieldVal::Uint(u) => Some(*u),
            FieldVal::Int(i) if *i >= 0 => Some(*i as u64),
            _ => None,
        }
    };
    let mut ts = 0u64;
    let mut first = true;
    let mut emit = |out: &mut String, key: &str, v: &FieldVal<'_>| {
        if !first {
            out.push(',');
        }
        first = false;
        json_str(out, &written_key(key));
        out.push(':');
        value_json(out, v);
    };
    if !dup {
        for f in fields {
            let k = key(f);
            if eq_lit(k, "tsNs") {
                if let Some(t) = ts_of(&f.value) {
                    ts = t;
                    continue;
                }
            }
            emit(out, k, &f.value);
        }
        return ts;
    }
    // Slow path: resolve duplicates (rare; at most 64 fields).
    let mut order: Vec<(std::borrow::Cow<'_, str>, &FieldVal<'_>, &str)> = Vec::new();
    for f in fields {
        let wk = written_key(key(f));
        if let Some(e) = order.iter_mut().find(|e| e.0 == wk) {
            e.1 = &f.value;
        } else {
            order.push((wk, &f.value, key(f)));
        }
    }
    for (_, v, key) in order {
        if eq_lit(key, "tsNs") {
            if let Some(t) = ts_of(v) {
                ts = t;
                continue;
            }
        }
        emit(out, key, v);
    }
    ts
}

fn log_ok(message: &str, fields: &[FieldRef<'_>]) -> bool {
    !message.is_empty()
        && utf16_len_within(message, MESSAGE_LEN)
        && fields.len() <= MAX_FIELDS
        && fields.iter().all(|f| {
            !f.key.is_empty()
                && utf16_len_within(f.key, KEY_LEN)
                && match &f.value {
                    FieldVal::Str(s) => utf16_len_within(s, STRING_LEN),
                    _ => true,
                }
        })
}

/// One log-event's fields, borrowed from guest memory while decode's result is lifted
/// (lift.rs), already bounds-checked and UTF-8-validated.
pub struct FieldRef<'a> {
    pub key: &'a str,
    pub value: FieldVal<'a>,
}

pub enum FieldVal<'a> {
    Str(&'a str),
    Int(i64),
    Uint(u64),
    Float(f64),
    Boolean(bool),
}

/// Checks a log-event and renders its fields' JSON onto `out`: Some(tsNs, 0 when none),
/// or None (nothing written) when it breaks a rule.
pub fn render_log(out: &mut String, message: &str, fields: &[FieldRef<'_>]) -> Option<u64> {
    if !log_ok(message, fields) {
        return None;
    }
    Some(render_fields(out, fields))
}

impl Compact {
    /// `arena`: the strings lifted with `out` (lift::take_arena()).
    pub fn from_lifted(out: lift::DecodeOutput, arena: Vec<u8>) -> Compact {
        let m = out.metrics;
        let mut c = Compact {
            label_idx: Vec::with_capacity(m.labels.len()),
            ..Compact::default()
        };
        let mut strs = Interner {
            arena: &arena,
            map: HashMap::default(),
            order: Vec::new(),
        };
        for &l in &m.labels {
            c.label_idx.push(strs.add(l));
        }
        c.metric = m.metric;
        c.op = m.op;
        c.value = m.value;
        c.label_start = m.label_start;
        let logs = out.logs;
        c.log_level = logs.level;
        c.log_message = logs.message.iter().map(|&m| strs.add(m)).collect();
        c.log_connection = logs.connection;
        c.log_ts = logs.ts;
        c.fields_buf = logs.fields_buf;
        c.fields_end = logs.fields_end;
        c.invalid_logs = logs.invalid;
        c.strings = strs.order;
        c.annotations = out
            .annotations
            .0
            .iter()
            .map(|a| (a.connection, a.key.get(&arena).to_string(), a.value.get(&arena).to_string()))
            .collect();
        c.streams = out.streams.0;
        c.arena = arena;
        c
    }

    /// The arena back to the thread-local pool (its capacity is reused).
    pub fn recycle(self) {
        lift::return_arena(self.arena);
    }

    pub fn to_js(&self, env: &Env) -> Result<JsObject> {
        let mut o = env.create_object()?;
        let mut strings = env.create_array_with_length(self.strings.len())?;
        for (i, s) in self.strings.iter().enumerate() {
            strings.set_element(i as u32, js_string(env, s.get(&self.arena))?)?;
        }
        o.set_named_property("strings", strings)?;
        o.set_named_property("metric", typed(env, &self.metric, TypedArrayType::Uint32)?)?;
        o.set_named_property("op", typed(env, &self.op, TypedArrayType::Uint8)?)?;
        o.set_named_property("value", typed(env, &self.value, TypedArrayType::Float64)?)?;
        o.set_named_property("labelStart", typed(env, &self.label_start, TypedArrayType::Uint32)?)?;
        o.set_named_property("labelIdx", typed(env, &self.label_idx, TypedArrayType::Uint32)?)?;
        let mut logs = env.create_object()?;
        logs.set_named_property("level", typed(env, &self.log_level, TypedArrayType::Uint8)?)?;
        logs.set_named_property("message", typed(env, &self.log_message, TypedArrayType::Uint32)?)?;
        logs.set_named_property("connection", typed(env, &self.log_connection, TypedArrayType::BigUint64)?)?;
        logs.set_named_property("tsNs", typed(env, &self.log_ts, TypedArrayType::BigUint64)?)?;
        let mut fj = env.create_array_with_length(self.fields_end.len())?;
        let mut start = 0usize;
        for (i, &end) in self.fields_end.iter().enumerate() {
            fj.set_element(i as u32, js_string(env, &self.fields_buf[start..end as usize])?)?;
            start = end as usize;
        }
        logs.set_named_property("fieldsJson", fj)?;
        o.set_named_property("logs", logs)?;
        o.set_named_property("invalidLogs", env.create_uint32(self.invalid_logs)?)?;
        let mut anns = env.create_array_with_length(self.annotations.len())?;
        for (i, (conn, key, value)) in self.annotations.iter().enumerate() {
            let mut ao = env.create_object()?;
            ao.set_named_property("connection", env.create_bigint_from_u64(*conn)?.into_unknown()?)?;
            ao.set_named_property("key", env.create_string(key)?)?;
            ao.set_named_property("value", env.create_string(value)?)?;
            anns.set_element(i as u32, ao)?;
        }
        o.set_named_property("annotations", anns)?;
        let mut streams = env.create_array_with_length(self.streams.len())?;
        for (i, s) in self.streams.iter().enumerate() {
            let mut so = env.create_object()?;
            so.set_named_property("connection", env.create_bigint_from_u64(s.connection)?.into_unknown()?)?;
            let dir = match s.direction {
                lift::Direction::Egress => "egress",
                lift::Direction::Ingress => "ingress",
            };
            so.set_named_property("direction", env.create_string(dir)?)?;
            so.set_named_property("consumed", env.create_uint32(s.consumed)?)?;
            streams.set_element(i as u32, so)?;
        }
        o.set_named_property("streams", streams)?;
        Ok(o)
    }
}

fn js_string(env: &Env, s: &str) -> Result<JsUnknown> {
    // ASCII (the common case) skips V8's UTF-8 decoder.
    Ok(if s.is_ascii() {
        env.create_string_latin1(s.as_bytes())?.into_unknown()
    } else {
        env.create_string(s)?.into_unknown()
    })
}

/// One copy: the Vec's bytes into a new V8 ArrayBuffer, viewed as a typed array.
fn typed<T: Copy>(env: &Env, v: &[T], ty: TypedArrayType) -> Result<JsUnknown> {
    let bytes = std::mem::size_of_val(v);
    let mut ab = env.create_arraybuffer(bytes)?;
    if bytes > 0 {
        // SAFETY: plain-old-data numbers, copied byte for byte into a buffer of that size.
        let src = unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), bytes) };
        ab.copy_from_slice(src);
    }
    Ok(ab.into_raw().into_typedarray(ty, v.len(), 0)?.into_unknown())
}
