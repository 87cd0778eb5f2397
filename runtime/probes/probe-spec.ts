/**
 * What a probe module declares; the probe loader does the attaching.
 * A probe never calls the native binding itself, so every probe gets the same
 * fallback, cleanup and reporting.
 */

/** One BPF program and where it attaches. */
export type AttachPoint =
  | { kind: 'auto' } // from the ELF section (tp_btf/…, raw_tp/…, tp/…)
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tracepoint'; name: string }
  | { kind: 'cgroup'; path: string }
  /** Loaded but never attached: run by the host when needed (iterators). */
  | { kind: 'on-demand' };

export interface ProgramSpec {
  /** Program (function) name in the object. */
  name: string;
  attach: AttachPoint;
  /** Without a required program the probe is useless: its failure fails the probe. */
  required: boolean;
  /** What is lost when the kernel refuses an optional program; shown to users. */
  degrades?: string;
}

export interface ProbeSpec {
  /** Short name used in metrics labels and logs (`probe="tcp"`). */
  name: string;
  /** Compiled object, relative to the package root (`dist/bpf/tcp.bpf.o`). */
  object: string;
  programs: ProgramSpec[];
  /** Ring buffer the probe emits into. */
  ringBuffer: string;
  /** rodata constants written before load, by variable name. */
  constants: Record<string, Buffer>;
  /** Map sizes overridden before load. */
  maxEntries?: Record<string, number>;
}

/** Little-endian encoders for rodata constants. */
export const rodata = {
  u8: (v: number | boolean): Buffer => Buffer.from([Number(v) & 0xff]),
  u32(v: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return b;
  },
  u64(v: bigint | number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  },
};
