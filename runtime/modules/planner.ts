/**
 * A module's planner: reads a binary (native introspection, cached per
 * identity), shows the planner component only the symbols of the module's
 * interest list, runs plan() in the decoder sandbox, and checks the answer.
 * Used by the daemon (then attaches) and by `lightfoot inspect` (only shows).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BinaryInfo, InstanceLimits, PlannerComponent, PlanOutcome, SymbolInterest } from '../native/binding';
import type { ProbeModule } from './module';
import { checkPlan, type CheckedAttach } from './plan-check';

export const DEFAULT_PLAN_LIMITS: InstanceLimits = { memoryBytes: 32 * 1024 * 1024, deadlineMs: 500 };

export type PlanResult =
  | { status: 'planned'; attaches: CheckedAttach[]; config: Buffer; notes: string[] }
  /** The module does not apply to this binary (the planner's reason). */
  | { status: 'not-applicable'; reason: string }
  /** The planner faulted or its plan was refused by the host: nothing is attached. */
  | { status: 'error'; reason: string };

export interface PlannerEngine {
  compilePlanner(bytes: Buffer): PlannerComponent;
}

export class ModulePlanner {
  private readonly component: PlannerComponent;
  /** By binary identity: a binary is planned once per module, however many processes run it. */
  private readonly cache = new Map<string, PlanResult>();
  readonly faults = { trap: 0, timeout: 0, oom: 0, bad_output: 0, oversize: 0, refusedPlans: 0 };

  constructor(
    readonly module: ProbeModule,
    engine: PlannerEngine,
    root: string,
    private readonly readInfo: (file: string, interest: SymbolInterest) => BinaryInfo,
  ) {
    const spec = module.planner!;
    const file = path.resolve(root, spec.component);
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      throw new Error(`module ${module.name}: planner ${file} is missing (${(err as NodeJS.ErrnoException).code}): run \`npm run build\``);
    }
    this.component = engine.compilePlanner(bytes);
  }

  get sha256(): string {
    return this.component.sha256;
  }

  /** What the module's planner shows for a binary; throws only when the file cannot be read. */
  info(file: string): BinaryInfo {
    return this.readInfo(file, this.module.planner!.interest);
  }

  plan(info: BinaryInfo): PlanResult {
    const key = `${info.dev}:${info.inode}:${info.mtimeNs}:${info.sizeBytes}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.planUncached(info);
    this.cache.set(key, r);
    return r;
  }

  private planUncached(info: BinaryInfo): PlanResult {
    const spec = this.module.planner!;
    let outcome: PlanOutcome;
    try {
      outcome = this.component.plan(
        {
          path: info.path,
          kind: info.kind,
          ...(info.buildId !== undefined ? { buildId: info.buildId } : {}),
          ...(info.soname !== undefined ? { soname: info.soname } : {}),
          ...(info.goVersion !== undefined ? { goVersion: info.goVersion } : {}),
          symbolCount: info.symbolCount,
          modules: [],
          symbols: info.symbols,
          memberOffsets: [],
        },
        spec.limits ?? DEFAULT_PLAN_LIMITS,
      );
    } catch (err) {
      return { status: 'error', reason: `module ${this.module.name}: planner call failed: ${(err as Error).message}` };
    }
    if (outcome.status === 'fault') {
      const kind = outcome.faultKind ?? 'trap';
      this.faults[kind]++;
      return { status: 'error', reason: `module ${this.module.name}: planner ${kind}: ${outcome.message ?? ''}`.trim() };
    }
    if (outcome.status === 'refused') {
      return { status: 'not-applicable', reason: String(outcome.message ?? 'no reason given').slice(0, 300) };
    }
    const checked = checkPlan(outcome, info, spec.programs, spec.configMap !== undefined);
    if (!checked.ok) {
      this.faults.refusedPlans++;
      return { status: 'error', reason: `module ${this.module.name}: plan refused: ${checked.reason}` };
    }
    return { status: 'planned', attaches: checked.attaches, config: checked.config, notes: checked.notes };
  }
}
