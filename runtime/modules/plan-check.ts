/**
 * Checks a planner's answer before anything is attached. A plan is untrusted
 * input: it may only name the module's own uprobe programs and symbols the
 * host showed it, every offset must stay inside its symbol and inside an
 * executable segment of the file, a Go binary never gets a uretprobe, and the
 * size is bounded. One bad entry refuses the whole plan.
 */
import type { BinaryInfo, PlanOutcome } from '../native/binding';

export const MAX_PLAN_ATTACHES = 256;
export const MAX_PLAN_CONFIG_BYTES = 4096;
export const MAX_PLAN_NOTES = 32;

export interface CheckedAttach {
  program: string;
  symbol: string;
  /** Offset from the symbol's start, as planned. */
  offset: number;
  /** File offset the uprobe goes to. */
  fileOffset: number;
  retprobe: boolean;
  cookie: number;
}

export type CheckedPlan =
  | { ok: true; attaches: CheckedAttach[]; config: Buffer; notes: string[] }
  | { ok: false; reason: string };

function inText(info: BinaryInfo, off: number): boolean {
  return info.text.some((t) => off >= t.offset && off < t.offset + t.size);
}

export function checkPlan(
  outcome: PlanOutcome,
  info: BinaryInfo,
  allowedPrograms: readonly string[],
  hasConfigMap: boolean,
): CheckedPlan {
  const attach = outcome.attach ?? [];
  const notes = (outcome.notes ?? []).slice(0, MAX_PLAN_NOTES).map((n) => String(n).slice(0, 200));
  if (attach.length === 0) return { ok: false, reason: 'the plan attaches nothing' };
  if (attach.length > MAX_PLAN_ATTACHES) return { ok: false, reason: `the plan has ${attach.length} attachments (at most ${MAX_PLAN_ATTACHES})` };
  const config = outcome.config ?? Buffer.alloc(0);
  if (config.length > MAX_PLAN_CONFIG_BYTES) return { ok: false, reason: `config of ${config.length} bytes (at most ${MAX_PLAN_CONFIG_BYTES})` };
  if (config.length > 0 && !hasConfigMap) return { ok: false, reason: 'the plan carries config but the module declares no configMap' };
  const symbols = new Map(info.symbols.map((s) => [s.name, s]));
  const seen = new Set<string>();
  const out: CheckedAttach[] = [];
  for (const [i, a] of attach.entries()) {
    const where = `attach[${i}] (${JSON.stringify(String(a.program).slice(0, 64))} on ${JSON.stringify(String(a.symbol).slice(0, 64))})`;
    if (!allowedPrograms.includes(a.program)) {
      return { ok: false, reason: `${where}: program is not one of the module's uprobe programs (${allowedPrograms.join(', ')})` };
    }
    const sym = symbols.get(a.symbol);
    if (!sym) return { ok: false, reason: `${where}: the binary has no such function among those shown to the planner` };
    if (!Number.isSafeInteger(a.offset) || a.offset < 0 || (sym.size > 0 ? a.offset >= sym.size : a.offset !== 0)) {
      return { ok: false, reason: `${where}: offset ${a.offset} is outside the function (size ${sym.size})` };
    }
    const fileOffset = sym.offset + a.offset;
    if (!inText(info, fileOffset)) return { ok: false, reason: `${where}: file offset ${fileOffset} is not in an executable segment` };
    const retprobe = a.mode === 'uretprobe';
    if (retprobe && info.goVersion !== undefined) {
      return { ok: false, reason: `${where}: a uretprobe in a Go binary (${info.goVersion}) would crash it; use uprobes at RET instructions` };
    }
    if (retprobe && a.offset !== 0) return { ok: false, reason: `${where}: a uretprobe must be at the function entry (offset 0)` };
    if (!Number.isInteger(a.cookie) || a.cookie < 0 || a.cookie > 0xffffffff) return { ok: false, reason: `${where}: cookie must be a u32` };
    const key = `${a.program}@${fileOffset}/${retprobe}`;
    if (seen.has(key)) return { ok: false, reason: `${where}: attached twice` };
    seen.add(key);
    out.push({ program: a.program, symbol: a.symbol, offset: a.offset, fileOffset, retprobe, cookie: a.cookie });
  }
  return { ok: true, attaches: out, config, notes };
}
