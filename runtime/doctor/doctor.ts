/** `lightfoot doctor`: can monitoring work on this host, and if not, why. */
import { tcpProbe } from '../../probes/tcp/manifest';
import { packageRoot } from '../package-root';
import {
  CheckResult,
  checkBtf,
  checkCapabilities,
  checkCgroupV2,
  checkKernel,
  checkProbeObject,
  checkPrograms,
  checkTracefs,
} from './checks';

export interface DoctorOptions {
  json: boolean;
}

function renderTable(rows: CheckResult[]): string {
  const w1 = Math.max(5, ...rows.map((r) => r.check.length));
  const w2 = 6;
  const lines = [`${'CHECK'.padEnd(w1)}  ${'STATUS'.padEnd(w2)}  DETAIL`];
  for (const r of rows) {
    lines.push(`${r.check.padEnd(w1)}  ${r.status.toUpperCase().padEnd(w2)}  ${r.detail}`);
    if (r.fix && r.status !== 'ok') lines.push(`${''.padEnd(w1)}  ${''.padEnd(w2)}  -> ${r.fix}`);
  }
  return lines.join('\n');
}

export async function runDoctor(opts: DoctorOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const root = packageRoot();
  const spec = tcpProbe({
    selectAll: false,
    filterComm: true,
    filterCgroup: true,
    selfTgid: process.pid,
    ringBufferBytes: 1 << 16,
  });
  const rows: CheckResult[] = [checkKernel(), checkBtf(), checkCapabilities(), checkTracefs(), checkCgroupV2()];
  const objectRow = checkProbeObject(spec, root);
  rows.push(objectRow);

  let native: typeof import('../native/binding') | undefined;
  try {
    native = require('../native/binding') as typeof import('../native/binding');
    rows.push({ check: 'native addon', status: 'ok', detail: `libbpf ${native.libbpfVersion()}` });
  } catch (err) {
    rows.push({ check: 'native addon', status: 'fail', detail: (err as Error).message.split('\n', 1)[0], fix: 'run `npm run build`' });
  }
  const privileged = rows.find((r) => r.check === 'capabilities')?.status === 'ok';
  if (native && objectRow.status === 'ok' && privileged) {
    const n = native;
    rows.push(...checkPrograms(spec, root, { open: (f) => n.BpfObject.open(f) }));
  }

  const failed = rows.filter((r) => r.status === 'fail');
  if (opts.json) {
    out.write(`${JSON.stringify({ ok: failed.length === 0, checks: rows }, null, 2)}\n`);
  } else {
    out.write(`${renderTable(rows)}\n\n`);
    out.write(
      failed.length
        ? `lightfoot cannot monitor this host: fix ${failed.map((r) => r.check).join(', ')} (see -> lines above)\n`
        : 'lightfoot can monitor this host.\n',
    );
  }
  return failed.length ? 1 : 0;
}
