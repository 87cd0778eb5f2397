// Where the SDK lives: the repo (or installed package) root holding sdk/wit/decoder.wit.
// Compiled files run from dist/sdk/..., so walk up from this file; LIGHTFOOT_ROOT
// overrides (tests compiled outside the tree).
import { existsSync } from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function repoRoot(): string {
  if (cached) return cached;
  const override = process.env.LIGHTFOOT_ROOT;
  if (override) return (cached = path.resolve(override));
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'sdk', 'wit', 'decoder.wit'))) return (cached = dir);
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`cannot find the lightfoot SDK (sdk/wit/decoder.wit) above ${__dirname}: set LIGHTFOOT_ROOT`);
}

export const sdkPath = (...parts: string[]): string => path.join(repoRoot(), 'sdk', ...parts);
export const witDir = (): string => sdkPath('wit');
export const jcoBin = (): string => path.join(repoRoot(), 'node_modules', '.bin', 'jco');
