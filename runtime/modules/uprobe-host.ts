/**
 * Per-binary uprobes of planning modules. A uprobe lives on an inode, so each
 * (module, binary) is attached once, whatever number of processes run it; the
 * module's programs filter the current process in the kernel. The host tracks
 * which selected processes use each attachment and detaches it when the last
 * one is gone. A process that exits mid-attach only makes its own attempt fail:
 * what was attached for it is destroyed at once, nothing is retried in a loop.
 */
import * as fs from 'node:fs';
import type { BpfObject, Link } from '../native/binding';
import type { Logger } from '../log/logger';
import type { ProbeModule } from './module';
import type { ModulePlanner, PlanResult } from './planner';
import { mappedBinaries, resolveNeeded, type MappedBinary } from './binaries';

interface Attachment {
  module: string;
  path: string;
  inode: number;
  links: Link[];
  users: Set<number>;
  attachedAtNs: bigint;
  /** Set while no user is left: the detach happens when it fires. */
  linger?: NodeJS.Timeout;
}

/**
 * How long an attachment outlives its last user. Short-lived processes of one
 * binary (curl in a loop, cron jobs) then find it in place at their exec
 * instead of racing the attach.
 */
export const LINGER_MS = 2000;

export interface UprobeModule {
  module: ProbeModule;
  planner: ModulePlanner;
  object: BpfObject;
}

export interface UprobeHostStats {
  attachments: number;
  uprobes: number;
  planned: number;
  notApplicable: number;
  errors: number;
  attachFailures: number;
  detached: number;
}

export class UprobeHost {
  private readonly attachments = new Map<string, Attachment>();
  /** pid -> attachment keys it uses. */
  private readonly byPid = new Map<number, Set<string>>();
  /** Companion links per module, present while the module has an attachment. */
  private readonly companions = new Map<string, Link[]>();
  /** Errors already logged, by module + binary identity (no error storm on every rescan). */
  private readonly reported = new Set<string>();
  readonly stats: UprobeHostStats = { attachments: 0, uprobes: 0, planned: 0, notApplicable: 0, errors: 0, attachFailures: 0, detached: 0 };

  constructor(
    private readonly modules: readonly UprobeModule[],
    private readonly log: Logger,
    private readonly onAttached: (module: string, path: string, pid: number, sinceExecNs?: bigint) => void = () => {},
    private readonly lingerMs = LINGER_MS,
  ) {}

  get active(): boolean {
    return this.modules.length > 0;
  }

  /** Brings the attachments of `pid` in line with what it has mapped now. */
  syncProcess(pid: number, extra: readonly MappedBinary[] = [], execNs?: bigint): void {
    const mapped = mappedBinaries(pid);
    if (mapped.length === 0 && extra.length === 0) {
      this.processExited(pid);
      return;
    }
    const byInode = new Map<number, MappedBinary>();
    for (const b of [...mapped, ...extra]) if (!byInode.has(b.inode)) byInode.set(b.inode, b);
    const keep = new Set<string>();
    for (const m of this.modules) {
      for (const b of byInode.values()) {
        const key = this.ensure(m, b, pid, execNs);
        if (key) keep.add(key);
      }
    }
    // A process that exec'd or unmapped a library no longer uses what it left behind;
    // binaries found only through DT_NEEDED stay until the next sync confirms them.
    const old = this.byPid.get(pid) ?? new Set<string>();
    for (const k of old) if (!keep.has(k) && extra.length === 0) this.release(k, pid);
    for (const k of keep) old.add(k);
    if (extra.length === 0) for (const k of [...old]) if (!keep.has(k)) old.delete(k);
    this.byPid.set(pid, old);
  }

  /**
   * Right after an exec: the executable is mapped, its libraries are not yet.
   * Plan the executable and its DT_NEEDED libraries now, then confirm from maps.
   */
  onExec(pid: number, execNs: bigint): void {
    const mapped = mappedBinaries(pid);
    this.log.debug('exec seen', { pid, sinceExecMs: Number(process.hrtime.bigint() - execNs) / 1e6, mapped: mapped.length });
    // What is mapped already first (ld.so is usually done by now), the rest after.
    this.syncProcess(pid, [], execNs);
    const extra: MappedBinary[] = [];
    const root = `/proc/${pid}/root`;
    const exe = mapped[0];
    if (exe) {
      try {
        const seen = new Set<string>([exe.path]);
        const queue = [exe.path];
        while (queue.length > 0 && seen.size < 64) {
          const p = queue.shift()!;
          const info = this.modules[0].planner.info(root + p);
          for (const lib of resolveNeeded(root, p, info.needed, info.runpath)) {
            if (seen.has(lib)) continue;
            seen.add(lib);
            queue.push(lib);
            const libInfo = this.modules[0].planner.info(root + lib);
            extra.push({ path: lib, dev: libInfo.dev, inode: libInfo.inode, hostPath: root + lib });
          }
        }
      } catch (err) {
        this.log.debug('could not read the libraries of an exec', { pid, reason: (err as Error).message });
      }
    }
    this.syncProcess(pid, extra, execNs);
  }

  /** Processes attached for but no longer selected (or gone, even before a rescan saw them) let go. */
  retain(selected: ReadonlySet<number>): void {
    for (const pid of [...this.byPid.keys()]) if (!selected.has(pid)) this.processExited(pid);
  }

  processExited(pid: number): void {
    const keys = this.byPid.get(pid);
    if (!keys) return;
    this.byPid.delete(pid);
    for (const k of keys) this.release(k, pid);
  }

  /** The attachment key for (module, binary), attaching it first when needed; undefined when nothing applies. */
  private ensure(m: UprobeModule, b: MappedBinary, pid: number, execNs?: bigint): string | undefined {
    const key = `${m.module.name}|${b.dev}:${b.inode}`;
    const existing = this.attachments.get(key);
    if (existing) {
      existing.users.add(pid);
      if (existing.linger) {
        clearTimeout(existing.linger);
        existing.linger = undefined;
      }
      return key;
    }
    // The same file seen from the host's root (no container in between) does not
    // vanish when the process exits, so a slow attach still completes for later users.
    let file = b.hostPath;
    try {
      const st = fs.statSync(b.path);
      if (st.ino === b.inode && st.dev === b.dev) file = b.path;
    } catch {
      // not visible from here: use the process's root
    }
    let info;
    try {
      info = m.planner.info(file);
    } catch (err) {
      // Exited, or the file was replaced: this process's attempt ends here.
      this.log.debug('binary unreadable', { module: m.module.name, pid, path: b.path, reason: (err as Error).message });
      return undefined;
    }
    if (info.inode !== b.inode) return undefined; // replaced on disk since it was mapped
    const plan: PlanResult = m.planner.plan(info);
    const id = `${m.module.name}|${info.dev}:${info.inode}:${info.mtimeNs}`;
    if (plan.status === 'not-applicable') return undefined;
    if (plan.status === 'error') {
      if (!this.reported.has(id)) {
        this.reported.add(id);
        this.stats.errors++;
        this.log.warn('nothing attached from a bad plan', { module: m.module.name, path: b.path, reason: plan.reason });
      }
      return undefined;
    }
    const links: Link[] = [];
    try {
      for (const a of plan.attaches) {
        links.push(
          m.object.attachUprobe(a.program, {
            binaryPath: file,
            offset: a.fileOffset,
            retprobe: a.retprobe,
            cookie: BigInt(a.cookie),
          }),
        );
      }
    } catch (err) {
      for (const l of links) l.destroy();
      this.stats.attachFailures++;
      if (!this.reported.has(id)) {
        this.reported.add(id);
        this.log.warn('could not attach the uprobes of a binary; nothing of it stays attached', {
          module: m.module.name, pid, path: b.path, reason: (err as Error).message.split('\n', 1)[0],
        });
      }
      return undefined;
    }
    const now = process.hrtime.bigint();
    this.attachments.set(key, { module: m.module.name, path: b.path, inode: b.inode, links, users: new Set([pid]), attachedAtNs: now });
    this.stats.attachments++;
    this.stats.uprobes += links.length;
    this.stats.planned++;
    this.startCompanions(m);
    this.log.info('uprobes attached', {
      module: m.module.name, path: b.path, pid, uprobes: links.length,
      ...(execNs !== undefined ? { sinceExecMs: Number(now - execNs) / 1e6 } : {}),
      notes: plan.notes,
    });
    this.onAttached(m.module.name, b.path, pid, execNs !== undefined ? now - execNs : undefined);
    return key;
  }

  private release(key: string, pid: number): void {
    const a = this.attachments.get(key);
    if (!a) return;
    a.users.delete(pid);
    if (a.users.size > 0 || a.linger) return;
    a.linger = setTimeout(() => this.detach(key), this.lingerMs);
    a.linger.unref();
  }

  private detach(key: string): void {
    const a = this.attachments.get(key);
    if (!a || a.users.size > 0) return;
    for (const l of a.links) l.destroy();
    this.attachments.delete(key);
    this.stats.attachments--;
    this.stats.uprobes -= a.links.length;
    this.stats.detached++;
    this.log.info('uprobes detached: no selected process uses the binary any more', { module: a.module, path: a.path });
    if (![...this.attachments.values()].some((x) => x.module === a.module)) this.stopCompanions(a.module);
  }

  private startCompanions(m: UprobeModule): void {
    if (this.companions.has(m.module.name)) return;
    const links: Link[] = [];
    for (const p of m.module.planner?.companions ?? []) {
      try {
        links.push(m.object.attach(p));
      } catch (err) {
        this.log.warn('could not attach a companion program', { module: m.module.name, program: p, reason: (err as Error).message.split('\n', 1)[0] });
      }
    }
    this.companions.set(m.module.name, links);
  }

  private stopCompanions(module: string): void {
    for (const l of this.companions.get(module) ?? []) l.destroy();
    this.companions.delete(module);
  }

  /** What is attached now (for logs, tests and `lightfoot_uprobe_*` metrics). */
  current(): { module: string; path: string; inode: number; uprobes: number; users: number[] }[] {
    return [...this.attachments.values()].map((a) => ({ module: a.module, path: a.path, inode: a.inode, uprobes: a.links.length, users: [...a.users] }));
  }

  /** Detaches everything (shutdown). */
  close(): void {
    for (const a of this.attachments.values()) {
      if (a.linger) clearTimeout(a.linger);
      for (const l of a.links) l.destroy();
    }
    this.attachments.clear();
    this.byPid.clear();
    for (const m of [...this.companions.keys()]) this.stopCompanions(m);
  }
}
