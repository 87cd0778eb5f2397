/**
 * Loads a probe declared by a ProbeSpec: open, configure, load, attach.
 *
 * A program the kernel refuses is disabled and reported rather than failing the
 * whole probe, unless the spec marks it required. libbpf leaves an object
 * unusable after a failed load, so each refusal costs a re-open; a probe has a
 * handful of programs, so this stays bounded.
 */
import * as path from 'node:path';
import type { BpfObject, Link } from '../native/binding';
import { LoadError } from '../errors';
import type { Logger } from '../log/logger';
import type { ProbeSpec, ProgramSpec } from './probe-spec';

export interface DisabledProgram {
  program: string;
  stage: 'load' | 'attach';
  reason: string;
  degrades?: string;
}

export interface LoadedProbe {
  spec: ProbeSpec;
  object: BpfObject;
  disabled: DisabledProgram[];
  /** Detaches the programs; maps stay readable so the last events can be drained. */
  detach(): void;
  /** Detaches every link and frees every map and program; idempotent. */
  close(): void;
}

export interface ProbeLoaderDeps {
  openObject: (file: string) => BpfObject;
  packageRoot: string;
  logger: Logger;
}

function firstLine(msg: string): string {
  return msg.split('\n', 1)[0];
}

/** The verifier's own verdict: its last line that is not libbpf chatter or a summary. */
function verdict(tail: string[]): string | undefined {
  return [...tail].reverse().find((l) => !/^(libbpf:|processed \d+ insns|-- END)/.test(l));
}

/** The libbpf/verifier lines the native error carries after its first line. */
function logTail(msg: string): string[] {
  return msg
    .split('\n')
    .slice(1)
    .filter((l) => l && !l.startsWith('verifier log (tail)'));
}

function configure(obj: BpfObject, spec: ProbeSpec, disabled: Map<string, DisabledProgram>): void {
  for (const [name, value] of Object.entries(spec.constants)) obj.setConstant(name, value);
  for (const [map, n] of Object.entries(spec.maxEntries ?? {})) obj.setMaxEntries(map, n);
  const wanted = new Set(spec.programs.map((p) => p.name));
  for (const prog of obj.programs()) obj.setAutoload(prog.name, wanted.has(prog.name) && !disabled.has(prog.name));
}

function attachOne(obj: BpfObject, p: ProgramSpec): Link | undefined {
  switch (p.attach.kind) {
    case 'auto':
      return obj.attach(p.name);
    case 'tracepoint':
      return obj.attachTracepoint(p.name, p.attach.category, p.attach.name);
    case 'raw_tracepoint':
      return obj.attachRawTracepoint(p.name, p.attach.name);
    case 'cgroup':
      return obj.attachCgroup(p.name, p.attach.path);
    case 'on-demand':
      return undefined;
  }
}

export function loadProbe(spec: ProbeSpec, deps: ProbeLoaderDeps): LoadedProbe {
  const log = deps.logger.child(`probe.${spec.name}`);
  const file = path.resolve(deps.packageRoot, spec.object);
  const disabled = new Map<string, DisabledProgram>();
  let obj: BpfObject | undefined;

  for (let attempt = 0; attempt <= spec.programs.length && !obj; attempt++) {
    const candidate = deps.openObject(file);
    try {
      configure(candidate, spec, disabled);
      candidate.load();
      obj = candidate;
    } catch (err) {
      candidate.close();
      const failed = (err as { failedProgram?: string }).failedProgram;
      const prog = spec.programs.find((p) => p.name === failed);
      const message = (err as Error).message;
      if (!prog || prog.required || disabled.has(prog.name)) {
        // One line for the user; the whole verifier log for whoever debugs it.
        const tail = logTail(message);
        log.error('the kernel refused the probe', { program: failed, log: tail });
        throw new LoadError(`loading probe ${spec.name}: ${[firstLine(message), verdict(tail) ?? tail[tail.length - 1]].filter(Boolean).join(': ')}`, {
          cause: err,
          hint: 'the full libbpf/verifier log is in the diagnostic log; `lightfoot doctor` checks each program',
        });
      }
      disabled.set(prog.name, { program: prog.name, stage: 'load', reason: firstLine(message), degrades: prog.degrades });
      log.warn('kernel refused an optional program; continuing without it', {
        program: prog.name,
        reason: firstLine(message),
        degrades: prog.degrades,
      });
    }
  }
  if (!obj) throw new LoadError(`loading probe ${spec.name}: every attempt failed`);

  const links: Link[] = [];
  const loaded = obj;
  const detach = (): void => {
    for (const l of links.splice(0)) l.destroy();
  };
  const close = (): void => {
    detach();
    loaded.close();
  };
  for (const p of spec.programs) {
    if (disabled.has(p.name)) continue;
    try {
      const link = attachOne(loaded, p);
      if (link) links.push(link);
    } catch (err) {
      const reason = firstLine((err as Error).message);
      if (p.required) {
        close();
        throw new LoadError(`attaching ${p.name} of probe ${spec.name}: ${reason}`, { cause: err });
      }
      disabled.set(p.name, { program: p.name, stage: 'attach', reason, degrades: p.degrades });
      log.warn('could not attach an optional program; continuing without it', { program: p.name, reason, degrades: p.degrades });
    }
  }
  log.info('probe attached', { programs: links.length, disabled: [...disabled.keys()] });
  return { spec, object: loaded, disabled: [...disabled.values()], detach, close };
}
