// A decoder project: a directory with lightfoot-decoder.json (written by
// `lightfoot-sdk new`). The manifest names the decoder, its language and sources.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

export interface Project {
  dir: string;
  name: string;
  lang: 'c' | 'assemblyscript';
  sources: string[];       // C: absolute source paths
  entry: string;           // AssemblyScript: absolute entry file
  maxMemoryBytes: number;
  wasm: string;            // build output: <dir>/<name>.wasm
}

export const MANIFEST = 'lightfoot-decoder.json';
export const NAME_RE = /^[a-z][a-z0-9-]*$/;

export class UsageError extends Error {}

export function loadProject(dirArg: string): Project {
  const dir = path.resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`no such directory: ${dirArg}`);
  const file = path.join(dir, MANIFEST);
  if (!existsSync(file)) throw new UsageError(`${dirArg} is not a decoder project (no ${MANIFEST}; create one with \`lightfoot-sdk new\`)`);
  let m: any;
  try { m = JSON.parse(readFileSync(file, 'utf8')); } catch (e) { throw new UsageError(`${file}: invalid JSON: ${(e as Error).message}`); }
  if (typeof m?.name !== 'string' || !NAME_RE.test(m.name)) throw new UsageError(`${file}: "name" must match [a-z][a-z0-9-]*`);
  if (m.lang !== 'c' && m.lang !== 'assemblyscript') throw new UsageError(`${file}: "lang" must be "c" or "assemblyscript"`);
  const maxMemoryBytes = m.maxMemoryBytes ?? 16 << 20;
  if (!Number.isInteger(maxMemoryBytes) || maxMemoryBytes <= 0 || maxMemoryBytes % 65536) throw new UsageError(`${file}: "maxMemoryBytes" must be a positive multiple of 65536`);
  const sources = (m.sources ?? (m.lang === 'c' ? ['src/decoder.c'] : [])).map((s: string) => path.resolve(dir, s));
  const entry = path.resolve(dir, m.entry ?? 'assembly/index.ts');
  for (const f of m.lang === 'c' ? sources : [entry]) if (!existsSync(f)) throw new UsageError(`${file}: source ${path.relative(dir, f)} does not exist`);
  return { dir, name: m.name, lang: m.lang, sources, entry, maxMemoryBytes, wasm: path.join(dir, `${m.name}.wasm`) };
}
