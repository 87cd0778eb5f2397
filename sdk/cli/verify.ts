// `lightfoot-sdk verify FILE.wasm`: what a component declares (describe()), after
// the same checks the host makes (a component, no imports, the decoder export).
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from '../host/project';
import { loadV8 } from '../host/v8-engine';

export async function verifyFile(file: string): Promise<string> {
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const bytes = readFileSync(file);
  const dec = await loadV8(bytes);
  const info = dec.describe();
  const lines = [
    `${file}: ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`,
    `decoder ${info.name} ${info.version}`,
    ...info.subscriptions.map((s) => `  subscribes ${s.probe} kinds=${s.kinds.length ? s.kinds.join(',') : 'all'}${s.streams ? ' +streams' : ''}`),
    ...info.metrics.map((m, i) => `  metric[${i}] ${m.kind} ${m.name}{${m.labels.join(',')}}${m.buckets.length ? ` buckets=${m.buckets.join(',')}` : ''}: ${m.help}`),
  ];
  return lines.join('\n') + '\n';
}

export function registerVerify(p: Command): void {
  p.command('verify <file>')
    .description('check a decoder component and print what it declares')
    .option('--json', 'print describe() as JSON')
    .action(async (file: string, o: { json?: boolean }) => {
      if (o.json) {
        if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
        const dec = await loadV8(readFileSync(file));
        process.stdout.write(JSON.stringify(dec.describe(), null, 2) + '\n');
      } else {
        process.stdout.write(await verifyFile(file));
      }
    });
}
