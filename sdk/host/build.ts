// `lightfoot-sdk build`: a project → <name>.wasm, then the no-imports check every
// host applies (so a bad component fails here, not when lightfoot loads it).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { buildAssemblyScript } from './build-as';
import { sdkPath } from './paths';
import { Project } from './project';
import { checkWorld, transpileComponent } from './v8-engine';

export interface BuildResult { wasm: string; bytes: number; sha256: string }

function buildC(p: Project): void {
  try {
    execFileSync('bash', [sdkPath('scripts', 'build-c-component.sh'), '--max-memory', String(p.maxMemoryBytes),
      '-I', sdkPath('guest', 'c'), '-o', p.wasm, ...p.sources], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e: any) {
    throw new Error(`C build failed:\n${String(e.stderr ?? e.message).trimEnd()}`);
  }
}

export async function buildProject(p: Project, opts: { optimize?: boolean } = {}): Promise<BuildResult> {
  if (p.lang === 'c') buildC(p);
  else await buildAssemblyScript({ dir: p.dir, entry: p.entry, out: p.wasm, maxMemoryBytes: p.maxMemoryBytes, optimize: opts.optimize ?? true });
  const bytes = readFileSync(p.wasm);
  checkWorld(await transpileComponent(bytes));
  return { wasm: p.wasm, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
