// Shared by the SDK tests: run the compiled CLI, copy projects to temp dirs (builds
// write <name>.wasm and build/ next to the sources), build once per test file.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../sdk/host/paths';
import { scaffold } from '../../sdk/cli/new';

export const CLI = path.resolve(__dirname, '../../sdk/cli/main.js');

export interface CliResult { status: number | null; stdout: string; stderr: string }

export function runCli(args: string[], cwd = process.cwd()): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, LIGHTFOOT_ROOT: repoRoot() } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `lf-sdk-${prefix}-`));
}

/** Copies a project (repo-relative) into a temp dir and returns the copy's path;
 *  a template is scaffolded (its placeholders filled) as `lightfoot-sdk new` does. */
export function copyProject(rel: string): string {
  const tpl = /^sdk\/templates\/(c|assemblyscript)$/.exec(rel);
  if (tpl) return scaffold(`tpl-${tpl[1] === 'c' ? 'c' : 'as'}`, tpl[1], path.join(tempDir('tpl'), 'tpl'));
  const dst = path.join(tempDir('proj'), path.basename(rel));
  cpSync(path.join(repoRoot(), rel), dst, { recursive: true, filter: (s) => !/\.wasm$|\/build$/.test(s) });
  return dst;
}

export function mustBuild(dir: string): void {
  const r = runCli(['build', dir]);
  if (r.status !== 0) throw new Error(`lightfoot-sdk build ${dir} failed:\n${r.stderr}`);
}
