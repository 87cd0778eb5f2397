// `lightfoot inspect PID|PATH`: what the planning modules would attach in a
// process (its executable and mapped libraries) or in a file (and the libraries
// its DT_NEEDED entries resolve to), and where every offset comes from; for a
// binary nothing applies to, why. Plans only: nothing is attached, no root is
// needed beyond reading the files.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../errors';
import { packageRoot } from '../package-root';
import { PROBE_MODULES } from '../../probes/index';
import { mappedBinaries, resolveNeeded } from '../modules/binaries';
import { ModulePlanner, type PlannerEngine, type PlanResult } from '../modules/planner';
import type { BinaryInfo } from '../native/binding';

export interface InspectOptions {
  target: string;
  json: boolean;
}

interface BinaryReport {
  path: string;
  /** How it was found: mapped by the process, the file given, or a DT_NEEDED of it. */
  via: 'mapped' | 'file' | 'needed';
  identity?: Omit<BinaryInfo, 'symbols' | 'text' | 'path'> & { textBytes: number };
  error?: string;
  modules: { module: string; status: PlanResult['status']; reason?: string; notes?: string[]; attach?: unknown[] }[];
}

function plannerEngine(): PlannerEngine {
  const native = require('../native/binding') as typeof import('../native/binding');
  return new native.WasmEngine({ cacheDir: '' }) as unknown as PlannerEngine;
}

export async function inspect(opts: InspectOptions, writeOut: (s: string) => void): Promise<number> {
  const native = require('../native/binding') as typeof import('../native/binding');
  const root = packageRoot();
  const engine = plannerEngine();
  const planners = PROBE_MODULES.filter((m) => m.planner).map((m) => new ModulePlanner(m, engine, root, native.readBinaryInfo));
  const kernelOnly = PROBE_MODULES.filter((m) => !m.planner).map((m) => m.name);

  const targets: { path: string; hostPath: string; via: BinaryReport['via'] }[] = [];
  let header: Record<string, unknown>;
  if (/^\d+$/.test(opts.target)) {
    const pid = Number(opts.target);
    const mapped = mappedBinaries(pid);
    if (mapped.length === 0) {
      throw new UsageError(`inspect ${pid}: no such process, or its memory maps cannot be read`, { hint: 'give a running PID (as root for other users\' processes) or a file path' });
    }
    header = { pid, comm: readComm(pid) };
    for (const b of mapped) targets.push({ path: b.path, hostPath: b.hostPath, via: 'mapped' });
  } else {
    const file = path.resolve(opts.target);
    if (!fs.existsSync(file)) throw new UsageError(`inspect ${opts.target}: no such file`, { hint: 'give a PID or the path of an executable or shared library' });
    header = { file };
    targets.push({ path: file, hostPath: file, via: 'file' });
    try {
      const seen = new Set([file]);
      const queue = [file];
      while (queue.length > 0 && seen.size < 64) {
        const p = queue.shift()!;
        const info = native.readBinaryInfo(p, {});
        for (const lib of resolveNeeded('', p, info.needed, info.runpath)) {
          if (seen.has(lib)) continue;
          seen.add(lib);
          queue.push(lib);
          targets.push({ path: lib, hostPath: lib, via: 'needed' });
        }
      }
    } catch {
      // reported per binary below
    }
  }

  const reports: BinaryReport[] = targets.map((t) => {
    const r: BinaryReport = { path: t.path, via: t.via, modules: [] };
    let info: BinaryInfo | undefined;
    for (const p of planners) {
      try {
        info = p.info(t.hostPath);
      } catch (err) {
        r.error = (err as Error).message;
        return r;
      }
      const plan = p.plan(info);
      const entry: BinaryReport['modules'][number] = { module: p.module.name, status: plan.status };
      if (plan.status === 'planned') {
        entry.notes = plan.notes;
        entry.attach = plan.attaches.map((a) => ({
          symbol: a.symbol,
          offset: a.offset,
          fileOffset: a.fileOffset,
          kind: a.retprobe ? 'return (uretprobe)' : a.offset === 0 ? 'entry (uprobe)' : 'uprobe at offset',
          program: a.program,
          source: `ELF symbol ${a.symbol} (file offset ${info!.symbols.find((s) => s.name === a.symbol)?.offset}) + ${a.offset} from the planner`,
        }));
      } else {
        entry.reason = plan.reason;
      }
      r.modules.push(entry);
    }
    if (info) {
      const { symbols, text, path: _p, ...rest } = info;
      void symbols;
      void _p;
      r.identity = { ...rest, textBytes: text.reduce((n, x) => n + x.size, 0) };
    }
    return r;
  });

  if (opts.json) {
    writeOut(`${JSON.stringify({ ...header, kernelModules: kernelOnly, binaries: reports }, null, 2)}\n`);
    return 0;
  }
  const lines: string[] = [];
  lines.push(Object.entries(header).map(([k, v]) => `${k}: ${v}`).join('  '));
  lines.push(`kernel-side modules (every selected process): ${kernelOnly.join(', ') || 'none'}`);
  for (const r of reports) {
    lines.push('');
    lines.push(`${r.path}  (${r.via})`);
    if (r.error) {
      lines.push(`  cannot read: ${r.error}`);
      continue;
    }
    const id = r.identity!;
    lines.push(`  ${id.kind}, ${id.sizeBytes} bytes, inode ${id.inode}, build-id ${id.buildId ?? 'none'}${id.soname ? `, soname ${id.soname}` : ''}${id.goVersion ? `, ${id.goVersion}` : ''}`);
    lines.push(`  ${id.symbolCount} function symbols${id.symbolCount === 0 ? ' (stripped: no .symtab/.dynsym functions)' : ''}; read in ${id.parseMs.toFixed(1)} ms${id.cached ? ' (cached)' : ''}`);
    for (const m of r.modules) {
      if (m.status === 'planned') {
        lines.push(`  ${m.module}: would attach ${m.attach!.length} probes`);
        for (const a of m.attach as { symbol: string; offset: number; fileOffset: number; kind: string; program: string }[]) {
          lines.push(`    ${a.symbol}+${a.offset}  file offset 0x${a.fileOffset.toString(16)}  ${a.kind}  -> ${a.program}  (ELF symbol table)`);
        }
        for (const n of m.notes ?? []) lines.push(`    note: ${n}`);
      } else {
        lines.push(`  ${m.module}: ${m.status === 'error' ? 'REFUSED' : 'does not apply'}: ${m.reason}`);
      }
    }
  }
  writeOut(`${lines.join('\n')}\n`);
  return 0;
}

function readComm(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}
