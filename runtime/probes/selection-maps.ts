/**
 * Writes the user's selection into the kernel allow-lists of bpf/lib/selection.bpf.h.
 * Key layouts mirror that header: tgid u32, cgroup id u64, comm 16 NUL-padded bytes.
 */
import type { BpfObject } from '../native/binding';

const ONE = Buffer.from([1]);

export const COMM_LEN = 16;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

/** The kernel's comm key: at most 15 bytes plus NUL, zero padded. */
export function commKey(comm: string): Buffer {
  const bytes = Buffer.from(comm, 'utf8');
  if (bytes.length === 0 || bytes.length >= COMM_LEN) {
    throw new RangeError(`comm "${comm}" must be 1 to ${COMM_LEN - 1} bytes`);
  }
  const key = Buffer.alloc(COMM_LEN);
  bytes.copy(key);
  return key;
}

export class SelectionMaps {
  constructor(private readonly obj: BpfObject) {}

  allowTgid(pid: number): void {
    this.obj.mapUpdate('lf_allow_tgid', u32(pid), ONE);
  }

  forgetTgid(pid: number): boolean {
    return this.obj.mapDelete('lf_allow_tgid', u32(pid));
  }

  allowComm(comm: string): void {
    this.obj.mapUpdate('lf_allow_comm', commKey(comm), ONE);
  }

  allowCgroup(id: bigint): void {
    this.obj.mapUpdate('lf_allow_cgroup', u64(id), ONE);
  }

  /** Stop selecting a cgroup (a pod that is no longer desired); true when it was selected. */
  forgetCgroup(id: bigint): boolean {
    return this.obj.mapDelete('lf_allow_cgroup', u64(id));
  }

  allowedTgids(): number[] {
    return this.obj.mapKeys('lf_allow_tgid').map((k) => k.readUInt32LE(0));
  }
}
