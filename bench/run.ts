/**
 * `npm run bench [-- NAME...]`: runs the benchmarks (all, or the NAMEs given:
 * tcp-overhead, host-throughput, decoder-throughput, decoder-engine,
 * batch-encoder) and records them in docs/benchmarks.md between the
 * BEGIN/END markers. Each section carries its own run line, and a partial run
 * replaces only its own sections, so results of separate runs stand together.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fmt, type BenchSection } from './bench-result';
import { tcpOverhead } from './tcp-overhead';
import { hostThroughput } from './host-throughput';
import { decoderThroughput } from './decoder-throughput';
import { decoderEngine } from './decoder-engine';
import { batchEncoder } from './batch-encoder';
import { kubeEnrichment } from './kube-enrichment';
import { tlsOverhead } from './tls-overhead';
import { http2DecoderThroughput, http2Overhead } from './http2';

const DOC = path.resolve(__dirname, '../../docs/benchmarks.md');
const BEGIN = '<!-- BEGIN RESULTS (written by npm run bench) -->';
const END = '<!-- END RESULTS -->';

function render(s: BenchSection): string {
  const run = `Run ${new Date().toISOString()} on ${os.cpus().length} vCPU ${os.cpus()[0]?.model ?? ''}, kernel ${os.release()}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(1)} at the end.`;
  const lines = [`### ${s.title}`, '', run, '', s.method, '', '| measurement | value | detail |', '|---|---|---|'];
  for (const r of s.rows) lines.push(`| ${r.name} | ${fmt(r.value, r.unit === 'x' ? 3 : r.value < 100 ? 1 : 0)} ${r.unit} | ${r.detail ?? ''} |`);
  lines.push('');
  return lines.join('\n');
}

/** The recorded sections by title, in document order (text before the first one is dropped). */
function sectionsOf(block: string): Map<string, string> {
  const out = new Map<string, string>();
  // Results recorded before sections had their own run line share one at the top.
  const shared = /^Run .*$/m.exec(block.split(/^### /m)[0] ?? '')?.[0];
  for (const part of block.split(/^(?=### )/m)) {
    const m = /^### (.*)$/m.exec(part);
    if (!m || !part.startsWith('### ')) continue;
    const text = shared && !/^Run /m.test(part) ? part.replace(/^(### .*\n\n)/, `$1${shared}\n\n`) : part;
    out.set(m[1].trim(), text.trimEnd() + '\n');
  }
  return out;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const all: [string, () => Promise<BenchSection>][] = [
    ['tcp-overhead', tcpOverhead],
    ['host-throughput', hostThroughput],
    ['decoder-throughput', () => decoderThroughput()],
    ['decoder-engine', decoderEngine],
    ['batch-encoder', batchEncoder],
    ['kube-enrichment', () => kubeEnrichment()],
    ['tls-overhead', tlsOverhead],
    ['http2-decoder', http2DecoderThroughput],
    ['http2-overhead', http2Overhead],
  ];
  const unknown = only.filter((n) => !all.some(([name]) => name === n));
  if (unknown.length) throw new Error(`unknown benchmark ${unknown.join(', ')}; pick from ${all.map(([n]) => n).join(', ')}`);
  const doc = fs.readFileSync(DOC, 'utf8');
  const i = doc.indexOf(BEGIN);
  const j = doc.indexOf(END);
  if (i < 0 || j < 0) throw new Error(`${DOC} lacks the result markers`);
  const recorded = sectionsOf(doc.slice(i + BEGIN.length, j));
  for (const [name, fn] of all) {
    if (only.length && !only.includes(name)) continue;
    process.stderr.write(`bench: ${name}...\n`);
    const section = await fn();
    const text = render(section);
    process.stdout.write(`${text}\n`);
    recorded.set(section.title, text);
    // Written after each benchmark, so a long run keeps what it measured if interrupted.
    const now = fs.readFileSync(DOC, 'utf8');
    const a = now.indexOf(BEGIN);
    const b = now.indexOf(END);
    fs.writeFileSync(DOC, `${now.slice(0, a + BEGIN.length)}\n${[...recorded.values()].join('\n')}\n${now.slice(b)}`);
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
