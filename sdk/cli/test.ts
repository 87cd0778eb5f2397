// `lightfoot-sdk test [dir]`: replays fixtures/*.batch.{msgpack,json} through the
// built component and compares canonical results with fixtures/*.expected.json.
// Default engine: V8 via jco transpile with no imports granted (no native addon,
// no BPF needed); `--engine wasmtime` uses the native addon's WasmEngine.
import { Command, Option } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { listFixtures } from '../host/fixtures';
import { loadProject, UsageError } from '../host/project';
import { compare, readExpected, replay, writeExpected } from '../host/replay';
import { Decoder } from '../host/types';
import { loadV8 } from '../host/v8-engine';
import { loadWasmtime } from '../host/wasmtime-engine';

export interface TestOptions { engine: 'v8' | 'wasmtime'; update?: boolean; component?: string }
export interface TestReport { passed: number; failed: number; text: string }

export async function runTests(dirArg: string, o: TestOptions): Promise<TestReport> {
  const proj = loadProject(dirArg);
  const wasm = o.component ? path.resolve(o.component) : proj.wasm;
  if (!existsSync(wasm)) throw new UsageError(`${path.relative(process.cwd(), wasm)} not found: run \`lightfoot-sdk build ${dirArg}\` first`);
  const bytes = readFileSync(wasm);
  const load = (): Promise<Decoder> => (o.engine === 'wasmtime' ? Promise.resolve(loadWasmtime(bytes)) : loadV8(bytes));
  await load(); // refuse a bad component before any fixture runs
  const fixtures = listFixtures(proj.dir);
  if (fixtures.length === 0) throw new UsageError(`no fixtures in ${path.join(dirArg, 'fixtures')} (*.batch.msgpack or *.batch.json)`);
  const out: string[] = [];
  let passed = 0, failed = 0;
  for (const fx of fixtures) {
    const { results, problems } = await replay(fx, load);
    if (o.update) {
      writeExpected(fx.expectedFile, results);
      out.push(`updated ${fx.name} (${results.length} batches)`);
      passed++;
      continue;
    }
    const c = compare(readExpected(fx.expectedFile), results);
    const ok = c.pass && problems.length === 0;
    if (ok) passed++; else failed++;
    out.push(`${ok ? 'ok  ' : 'FAIL'} ${fx.name} (${results.length} batches, ${o.engine})`);
    for (const p of problems) out.push(`     ${p}`);
    if (!c.pass) out.push(c.diff.split('\n').map((l) => `     ${l}`).join('\n'));
  }
  out.push(`${passed} passed, ${failed} failed`);
  return { passed, failed, text: out.join('\n') + '\n' };
}

export function registerTest(p: Command): void {
  p.command('test [dir]')
    .description('replay fixtures through the built component and compare outputs')
    .addOption(new Option('--engine <engine>', 'where to run the component').choices(['v8', 'wasmtime']).default('v8'))
    .option('--update', 'write the actual outputs to fixtures/*.expected.json')
    .option('--component <file>', 'component to test (default: <dir>/<name>.wasm)')
    .action(async (dir: string | undefined, o: TestOptions) => {
      const r = await runTests(dir ?? '.', o);
      process.stdout.write(r.text);
      if (r.failed > 0) process.exitCode = 1;
    });
}
