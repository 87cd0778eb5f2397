/**
 * `npm run bench`: runs every benchmark once and records the results in
 * docs/benchmarks.md (the section between the BEGIN/END markers).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fmt, type BenchSection } from './bench-result';
import { tcpOverhead } from './tcp-overhead';
import { hostThroughput } from './host-throughput';
import { decoderThroughput } from './decoder-throughput';
import { decoderEngine } from './decoder-engine';
import { http2DecoderThroughput, http2Overhead } from './http2';

const DOC = path.resolve(__dirname, '../../docs/benchmarks.md');
const BEGIN = '<!-- BEGIN RESULTS (written by npm run bench) -->';
const END = '<!-- END RESULTS -->';

function render(sections: BenchSection[]): string {
  const lines = [`Run ${new Date().toISOString()} on ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}, kernel ${os.release()}, Node ${process.version}.`, ''];
  for (const s of sections) {
    lines.push(`### ${s.title}`, '', s.method, '', '| measurement | value | detail |', '|---|---|---|');
    for (const r of s.rows) lines.push(`| ${r.name} | ${fmt(r.value, r.unit === 'x' ? 3 : r.value < 100 ? 1 : 0)} ${r.unit} | ${r.detail ?? ''} |`);
    lines.push('');
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const all: [string, () => Promise<BenchSection>][] = [
    ['tcp-overhead', tcpOverhead],
    ['host-throughput', hostThroughput],
    ['decoder-throughput', () => decoderThroughput()],
    ['decoder-engine', decoderEngine],
    ['http2-decoder', http2DecoderThroughput],
    ['http2-overhead', http2Overhead],
  ];
  const sections: BenchSection[] = [];
  for (const [name, fn] of all) {
    if (only.length && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    sections.push(await fn());
  }
  const text = render(sections);
  process.stdout.write(`${text}\n`);
  const doc = fs.readFileSync(DOC, 'utf8');
  const i = doc.indexOf(BEGIN);
  const j = doc.indexOf(END);
  if (i < 0 || j < 0) throw new Error(`${DOC} lacks the result markers`);
  fs.writeFileSync(DOC, `${doc.slice(0, i + BEGIN.length)}\n${text}\n${doc.slice(j)}`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
