/**
 * Network-namespace helpers. Both ends of the veth pair live in namespaces we
 * create (`lf-<name>-a`, `lf-<name>-b`); the host namespace is never touched
 * (the veth is created inside nsA with its peer placed directly into nsB).
 *
 * Packet loss is provoked with nftables (`numgen`), since netem is not
 * available. Each drop rule updates a named counter so tests can read the
 * exact number of packets dropped. Drop on the receiver's INPUT hook: drops on
 * the sender's own OUTPUT hook are not losses for TCP (see addDropRule).
 *
 * By default the veths get `gso_max_segs 1`, so TCP builds one-MSS skbs and
 * one nftables "packet" == one wire segment (otherwise a single dropped GSO
 * super-packet would be many segments).
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export const NETNS_PREFIX = 'lf-';
const OWNER_DIR = '/run/lightfoot/netns';
const NFT_TABLE = 'lightfoot_drop';
export const DEFAULT_DROP_COUNTER = 'lf_drop';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface NetnsPair {
  name: string;
  nsA: string;
  nsB: string;
  /** 10.200.<subnet>.1 in nsA */
  addrA: string;
  /** 10.200.<subnet>.2 in nsB */
  addrB: string;
  ifA: string;
  ifB: string;
  /** Runs a command inside `ns` (ip netns exec); rejects on non-zero exit unless allowFail. */
  exec(ns: string, cmd: string, args?: string[], opts?: { timeoutMs?: number; allowFail?: boolean }): Promise<ExecResult>;
  /** Removes both namespaces (kills processes still inside them). Idempotent. */
  destroy(): Promise<void>;
}

export interface CreateNetnsOptions {
  /** Third octet of 10.200.x.0/30 (1..254). Default: derived from the name. */
  subnet?: number;
  /** Keep GSO/TSO on the veths (default false: gso_max_segs 1). */
  segmentOffload?: boolean;
  /** MTU of both veths (default 1500). */
  mtu?: number;
}

export type DropDirection = 'output' | 'input';

export interface DropSpec {
  /** Drop with probability P percent (0 < P <= 100): `numgen random mod 100 < P`. */
  probability?: number;
  /** Drop every Nth matching packet: `numgen inc mod N == 0` (first match is dropped). */
  everyNth?: number;
  /** Only TCP packets with this destination port. */
  dport?: number;
  /** Only TCP packets with this source port. */
  sport?: number;
  /**
   * Only packets that likely carry payload: no SYN/FIN/RST flag and L3 length
   * > 52 + minPayload (IPv4 20 + TCP 32 with timestamps). Default true.
   * Keeps handshakes and teardown intact so only data segments are retransmitted.
   */
  payloadOnly?: boolean;
  /** L3-length threshold tweak for payloadOnly (default 28 → meta length > 80, safe vs. SACK-laden ACKs). */
  minPayload?: number;
  /** Counter name (default lf_drop). One counter per rule. */
  counter?: string;
}

export interface DropRule {
  ns: string;
  direction: DropDirection;
  counter: string;
  ruleText: string;
  /** Packets dropped so far. */
  read(): Promise<number>;
  /** Deletes the rule (and its counter). Idempotent. */
  remove(): Promise<void>;
}

async function run(cmd: string, args: string[], timeoutMs = 15_000, allowFail = false): Promise<ExecResult> {
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: timeoutMs, maxBuffer: 16 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string; message: string };
    const res = { stdout: e.stdout ?? '', stderr: e.stderr ?? e.message, code: typeof e.code === 'number' ? e.code : 1 };
    if (allowFail) return res;
    throw new Error(`${cmd} ${args.join(' ')} failed (${e.code}): ${res.stderr.trim()}`);
  }
}

function nsExec(ns: string, cmd: string, args: string[], timeoutMs?: number, allowFail?: boolean): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs, allowFail);
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export async function listNamespaces(): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'], 10_000, true);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((n): n is string => !!n);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ownerFile(ns: string): string {
  return path.join(OWNER_DIR, ns);
}

async function deleteNamespace(ns: string): Promise<void> {
  // kill what still runs inside (only our workloads live in lf-* namespaces)
  const pids = await run('ip', ['netns', 'pids', ns], 5_000, true);
  for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
    const pid = Number(p);
    if (pid > 1 && pid !== process.pid) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  }
  const r = await run('ip', ['netns', 'del', ns], 10_000, true);
  if (r.code !== 0 && !/No such file|Cannot remove namespace file|not found/i.test(r.stderr)) {
    if ((await listNamespaces()).includes(ns)) throw new Error(`ip netns del ${ns}: ${r.stderr.trim()}`);
  }
  try { fs.rmSync(ownerFile(ns), { force: true }); } catch { /* ignore */ }
}

/**
 * Deletes leftover `lf-*` namespaces from crashed runs: those whose owner
 * process (recorded at creation) is dead. With `{ all: true }` deletes every
 * `lf-*` namespace (do not use while other test runs may be active).
 */
export async function cleanupStaleNamespaces(opts: { all?: boolean } = {}): Promise<string[]> {
  const removed: string[] = [];
  for (const ns of await listNamespaces()) {
    if (!ns.startsWith(NETNS_PREFIX)) continue;
    let stale = !!opts.all;
    if (!stale) {
      try {
        const owner = Number(fs.readFileSync(ownerFile(ns), 'utf8').trim());
        stale = !(owner > 0 && pidAlive(owner));
      } catch {
        stale = false; // unknown owner: leave it alone
      }
    }
    if (stale) {
      await deleteNamespace(ns);
      removed.push(ns);
    }
  }
  return removed;
}

function nsInode(ns: string): number | undefined {
  try {
    return fs.statSync(`/run/netns/${ns}`).ino;
  } catch {
    return undefined;
  }
}

function subnetFromName(name: string): number {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return (h % 254) + 1;
}

const activePairs = new Set<NetnsPair>();
process.once('exit', () => {
  // synchronous last resort; async destroy() should have been called in `after`
  for (const p of activePairs) {
    for (const ns of [p.nsA, p.nsB]) {
      if (nsInode(ns) === undefined) continue;
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
      } catch { /* ignore */ }
    }
  }
});

/**
 * Creates `lf-<name>-a` (10.200.x.1/30) and `lf-<name>-b` (10.200.x.2/30)
 * joined by a veth pair, loopback up in both. Requires root.
 * A pre-existing pair with the same name is replaced.
 */
export async function createNetnsPair(name: string, opts: CreateNetnsOptions = {}): Promise<NetnsPair> {
  if (!/^[a-z0-9][a-z0-9-]{0,24}$/.test(name)) {
    throw new Error(`bad netns pair name ${JSON.stringify(name)} (use [a-z0-9-], max 25 chars)`);
  }
  if (!isRoot()) throw new Error('createNetnsPair requires root');
  const subnet = opts.subnet ?? subnetFromName(name);
  if (!(subnet >= 1 && subnet <= 254)) throw new Error(`subnet must be 1..254, got ${subnet}`);
  const nsA = `${NETNS_PREFIX}${name}-a`;
  const nsB = `${NETNS_PREFIX}${name}-b`;
  const ifA = 'lfva';
  const ifB = 'lfvb';
  const addrA = `10.200.${subnet}.1`;
  const addrB = `10.200.${subnet}.2`;

  const existing = await listNamespaces();
  for (const ns of [nsA, nsB]) if (existing.includes(ns)) await deleteNamespace(ns);

  fs.mkdirSync(OWNER_DIR, { recursive: true });
  let destroyed = false;
  const inodes = new Map<string, number | undefined>();
  const pair: NetnsPair = {
    name,
    nsA,
    nsB,
    addrA,
    addrB,
    ifA,
    ifB,
    exec: (ns, cmd, args = [], o = {}) => nsExec(ns, cmd, args, o.timeoutMs, o.allowFail),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      activePairs.delete(pair);
      for (const ns of [nsA, nsB]) {
        // only delete the namespace we created (not a same-named successor)
        if (inodes.has(ns) && nsInode(ns) !== inodes.get(ns)) continue;
        await deleteNamespace(ns);
      }
    },
  };
  activePairs.add(pair);
  try {
    for (const ns of [nsA, nsB]) {
      await run('ip', ['netns', 'add', ns]);
      inodes.set(ns, nsInode(ns));
      fs.writeFileSync(ownerFile(ns), `${process.pid}\n`);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // created inside nsA, peer moved straight into nsB: never in the host namespace
    await run('ip', ['-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    const mtu = String(opts.mtu ?? 1500);
    for (const [ns, ifn, addr] of [[nsA, ifA, addrA], [nsB, ifB, addrB]] as const) {
      const linkArgs = ['-n', ns, 'link', 'set', ifn, 'mtu', mtu];
      if (!opts.segmentOffload) linkArgs.push('gso_max_segs', '1');
      await run('ip', linkArgs);
      await run('ip', ['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', ifn]);
      await run('ip', ['-n', ns, 'link', 'set', ifn, 'up']);
    }
    return pair;
  } catch (e) {
    await pair.destroy().catch(() => undefined);
    throw e;
  }
}

function chainFor(direction: DropDirection): string {
  return direction === 'output' ? 'lf_out' : 'lf_in';
}

async function ensureTable(ns: string, direction: DropDirection): Promise<void> {
  const chain = chainFor(direction);
  await nsExec(ns, 'nft', ['add', 'table', 'inet', NFT_TABLE]);
  await nsExec(ns, 'nft', [
    'add', 'chain', 'inet', NFT_TABLE, chain,
    `{ type filter hook ${direction} priority 0; policy accept; }`,
  ]);
}

/**
 * Adds an nftables rule inside `ns` that drops matching TCP packets on the
 * given hook, counting them in a named counter.
 *
 * Use direction 'input' (the default) in the RECEIVER's namespace to provoke
 * real TCP retransmits. An 'output' drop of a locally generated segment is
 * reported back to the sending socket as a local transmit failure
 * (nf_hook -> -EPERM): TCP simply re-sends it later from its send queue, and
 * neither RetransSegs nor tcp_retransmit_skb sees a retransmission.
 */
export async function addDropRule(ns: string, spec: DropSpec, direction: DropDirection = 'input'): Promise<DropRule> {
  const counter = spec.counter ?? DEFAULT_DROP_COUNTER;
  if (!/^[a-zA-Z_][a-zA-Z0-9_]{0,30}$/.test(counter)) throw new Error(`bad counter name ${counter}`);
  let sel: string;
  if (spec.probability !== undefined && spec.everyNth === undefined) {
    const p = spec.probability;
    if (!(Number.isInteger(p) && p > 0 && p <= 100)) throw new Error(`probability must be an integer 1..100, got ${p}`);
    sel = `numgen random mod 100 < ${p}`;
  } else if (spec.everyNth !== undefined && spec.probability === undefined) {
    const n = spec.everyNth;
    if (!(Number.isInteger(n) && n >= 1)) throw new Error(`everyNth must be an integer >= 1, got ${n}`);
    sel = `numgen inc mod ${n} == 0`;
  } else {
    throw new Error('addDropRule: give exactly one of probability / everyNth');
  }
  const parts = ['meta l4proto tcp'];
  for (const [k, v] of [['dport', spec.dport], ['sport', spec.sport]] as const) {
    if (v === undefined) continue;
    if (!(Number.isInteger(v) && v > 0 && v < 65536)) throw new Error(`bad ${k} ${v}`);
    parts.push(`tcp ${k} ${v}`);
  }
  if (spec.payloadOnly !== false) {
    const min = 52 + (spec.minPayload ?? 28);
    parts.push('tcp flags & (syn | fin | rst) == 0', `meta length > ${min}`);
  }
  parts.push(sel, `counter name ${counter}`, 'drop');
  const ruleText = parts.join(' ');

  await ensureTable(ns, direction);
  await nsExec(ns, 'nft', ['add', 'counter', 'inet', NFT_TABLE, counter]);
  const chain = chainFor(direction);
  const added = await nsExec(ns, 'nft', ['--echo', '--handle', 'add', 'rule', 'inet', NFT_TABLE, chain, ruleText]);
  const hm = added.stdout.match(/# handle (\d+)/);
  if (!hm) throw new Error(`could not find rule handle in: ${added.stdout}`);
  const handle = hm[1];
  let removed = false;
  return {
    ns,
    direction,
    counter,
    ruleText,
    read: () => readDropCounter(ns, counter),
    async remove() {
      if (removed) return;
      removed = true;
      await nsExec(ns, 'nft', ['delete', 'rule', 'inet', NFT_TABLE, chain, 'handle', handle], undefined, true);
      await nsExec(ns, 'nft', ['delete', 'counter', 'inet', NFT_TABLE, counter], undefined, true);
    },
  };
}

export interface CounterValue {
  name: string;
  table: string;
  family: string;
  packets: number;
  bytes: number;
}

/** All named nftables counters inside `ns` (parsed from `nft -j list counters`). */
export async function readCounters(ns: string): Promise<CounterValue[]> {
  const r = await nsExec(ns, 'nft', ['-j', 'list', 'counters']);
  const doc = JSON.parse(r.stdout) as { nftables?: Array<Record<string, unknown>> };
  const out: CounterValue[] = [];
  for (const item of doc.nftables ?? []) {
    const c = item.counter as
      | { name: string; table: string; family: string; packets: number; bytes: number }
      | undefined;
    if (c) out.push({ name: c.name, table: c.table, family: c.family, packets: c.packets, bytes: c.bytes });
  }
  return out;
}

/** Packets dropped so far by the drop rule using `counter` (default lf_drop) inside `ns`. */
export async function readDropCounter(ns: string, counter: string = DEFAULT_DROP_COUNTER): Promise<number> {
  const c = (await readCounters(ns)).find((x) => x.table === NFT_TABLE && x.name === counter);
  if (!c) throw new Error(`no nft counter ${counter} in table ${NFT_TABLE} of netns ${ns}`);
  return c.packets;
}

/** Deletes the whole drop table inside `ns` (all drop rules + counters). Idempotent. */
export async function removeDropRules(ns: string): Promise<void> {
  await nsExec(ns, 'nft', ['delete', 'table', 'inet', NFT_TABLE], undefined, true);
}
