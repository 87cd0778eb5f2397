/** The package root (where package.json and dist/ live), from compiled or source layout. */
import * as fs from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find package.json above ${__dirname}`);
    dir = up;
  }
  cached = dir;
  return dir;
}
