// Canonical ABI glue for the decoder-plugin world, by hand (AssemblyScript has
// no wit-bindgen). Layouts are wasm32 canonical ABI: strings and lists are
// (ptr: u32, len: u32); records align to their widest field; variants put the
// u8 tag first and the payload at the payload's alignment. Offsets below match
// wit-bindgen's C output for sdk/wit/decoder.wit.
//
// Ownership: the host copies the batch in through cabi_realloc; we free it after
// decode. Every block a result points at is allocated here and remembered in
// `owned`; the post-return function frees them all after the host has copied
// the result out. The return area is static (one call at a time).
import { Batch } from "./batch";
import { DecodeError, DecoderInfo, Output } from "./output";

// 36 bytes is the larger of the two return areas (result<decode-output, …>).
const RET: usize = memory.data(40, 8);
const owned: usize[] = [];

/** Called by the host to allocate argument memory (the batch bytes). */
export function abiRealloc(old: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (newSize == 0) return align; // any aligned pointer will do for nothing
  // TLSF blocks are 16-byte aligned, more than any WIT type needs.
  return old == 0 ? heap.alloc(newSize) : heap.realloc(old, newSize);
}

function alloc(size: usize): usize {
  if (size == 0) return 0; // empty lists: pointer unused (0 is aligned and in bounds)
  const p = heap.alloc(size);
  memory.fill(p, 0, size);
  owned.push(p);
  return p;
}

/** Writes (ptr, len) of s, UTF-8 encoded (lone surrogates become U+FFFD: the host
 *  rejects invalid UTF-8). */
function putStr(dest: usize, s: string): void {
  const n = <usize>String.UTF8.byteLength(s);
  const p = alloc(n);
  if (n) String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, p, false, String.UTF8.ErrorMode.REPLACE);
  store<u32>(dest, <u32>p);
  store<u32>(dest, <u32>n, 4);
}

function putStrs(dest: usize, v: string[]): void {
  const p = alloc(<usize>v.length * 8);
  for (let i = 0; i < v.length; i++) putStr(p + <usize>i * 8, v[i]);
  store<u32>(dest, <u32>p);
  store<u32>(dest, <u32>v.length, 4);
}

/** list<T>: allocates n * size bytes, stores (ptr, n) at dest, returns ptr. */
function putList(dest: usize, n: i32, size: usize): usize {
  const p = alloc(<usize>n * size);
  store<u32>(dest, <u32>p);
  store<u32>(dest, <u32>n, 4);
  return p;
}

export function abiDescribe(info: DecoderInfo): usize {
  // decoder-info: name@0 version@8 subscriptions@16 metrics@24
  putStr(RET, info.name);
  putStr(RET + 8, info.version);
  const subs = info.subscriptions;
  // subscription (size 20, align 4): probe@0 kinds@8 streams@16
  let p = putList(RET + 16, subs.length, 20);
  for (let i = 0; i < subs.length; i++) {
    const s = subs[i], e = p + <usize>i * 20;
    putStr(e, s.probe);
    const k = putList(e + 8, s.kinds.length, 1);
    for (let j = 0; j < s.kinds.length; j++) store<u8>(k + <usize>j, s.kinds[j]);
    store<u8>(e + 16, s.streams ? 1 : 0);
  }
  const ms = info.metrics;
  // metric-decl (size 36, align 4): name@0 kind@8 help@12 labels@20 buckets@28
  p = putList(RET + 24, ms.length, 36);
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i], e = p + <usize>i * 36;
    putStr(e, m.name);
    store<u8>(e + 8, m.kind);
    putStr(e + 12, m.help);
    putStrs(e + 20, m.labels);
    const b = putList(e + 28, m.buckets.length, 8);
    for (let j = 0; j < m.buckets.length; j++) store<f64>(b + <usize>j * 8, m.buckets[j]);
  }
  return RET;
}

function lowerOutput(out: Output): void {
  store<u8>(RET, 0); // ok
  // decode-output at RET+4: metrics@4 logs@12 annotations@20 streams@28
  const mu = out.metrics;
  // metric-update (size 24, align 8): metric@0 labels@4 op@12 value@16
  let p = putList(RET + 4, mu.length, 24);
  for (let i = 0; i < mu.length; i++) {
    const m = mu[i], e = p + <usize>i * 24;
    store<u32>(e, m.metric);
    putStrs(e + 4, m.labels);
    store<u8>(e + 12, m.op);
    store<f64>(e + 16, m.value);
  }
  const logs = out.logs;
  // log-event (size 32, align 8): level@0 message@4 connection@16 fields@24
  p = putList(RET + 12, logs.length, 32);
  for (let i = 0; i < logs.length; i++) {
    const l = logs[i], e = p + <usize>i * 32;
    store<u8>(e, l.level);
    putStr(e + 4, l.message);
    store<u64>(e + 16, l.connection);
    const fs = l.fields;
    // field (size 24, align 8): key@0, field-value@8 = tag@8 payload@16
    const f = putList(e + 24, fs.length, 24);
    for (let j = 0; j < fs.length; j++) {
      const x = fs[j], fe = f + <usize>j * 24;
      putStr(fe, x.key);
      store<u8>(fe + 8, x.tag);
      if (x.tag == 0) putStr(fe + 16, x.str);
      else if (x.tag == 4) store<u8>(fe + 16, <u8>x.bits);
      else store<u64>(fe + 16, x.bits);
    }
  }
  const an = out.annotations;
  // annotation (size 24, align 8): connection@0 key@8 value@16
  p = putList(RET + 20, an.length, 24);
  for (let i = 0; i < an.length; i++) {
    const a = an[i], e = p + <usize>i * 24;
    store<u64>(e, a.connection);
    putStr(e + 8, a.key);
    putStr(e + 16, a.value);
  }
  const st = out.streams;
  // stream-progress (size 16, align 8): connection@0 direction@8 consumed@12
  p = putList(RET + 28, st.length, 16);
  for (let i = 0; i < st.length; i++) {
    const s = st[i], e = p + <usize>i * 16;
    store<u64>(e, s.connection);
    store<u8>(e + 8, s.direction);
    store<u32>(e + 12, s.consumed);
  }
}

/** Frees the batch and lowers the result; returns the return-area pointer. */
export function abiDecodeEnd(batchPtr: usize, out: Output, err: DecodeError | null): usize {
  if (batchPtr) heap.free(batchPtr);
  memory.fill(RET, 0, 40);
  if (err) {
    store<u8>(RET, 1); // err: decode-error at RET+4 = tag@4 string@8
    store<u8>(RET + 4, err.kind);
    putStr(RET + 8, err.message);
  } else {
    lowerOutput(out);
  }
  return RET;
}

/** Opens the batch the host passed; a malformed one becomes the error result. */
export function abiOpen(batchPtr: usize, len: usize, b: Batch): DecodeError | null {
  return b.open(batchPtr, len) ? null : DecodeError.malformed(b.error);
}

/** post-return: the host has copied the result; free what it pointed at. */
export function abiPostReturn(): void {
  for (let i = 0; i < owned.length; i++) heap.free(owned[i]);
  owned.length = 0;
}
