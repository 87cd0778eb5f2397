// `lightfoot-sdk build [dir]`: compiles the project into <name>.wasm and checks
// that the component imports nothing.
import { Command } from 'commander';
import * as path from 'node:path';
import { buildProject } from '../host/build';
import { loadProject } from '../host/project';

export function registerBuild(p: Command): void {
  p.command('build [dir]')
    .description('build the decoder component <name>.wasm')
    .option('--no-optimize', 'AssemblyScript: -O1 instead of -O3 (faster builds)')
    .action(async (dir: string | undefined, o: { optimize: boolean }) => {
      const proj = loadProject(dir ?? '.');
      const r = await buildProject(proj, { optimize: o.optimize });
      process.stdout.write(`built ${path.relative(process.cwd(), r.wasm) || r.wasm} (${r.bytes} bytes, sha256 ${r.sha256})\n`);
    });
}
