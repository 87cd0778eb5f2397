/**
 * Runs the real `lightfoot run` CLI as a child process, as a user would, and
 * gives tests its metrics, its event lines and its exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { parseMetrics, type Sample } from './prom';

export const CLI = path.resolve(__dirname, '../../runtime/cli/main.js');

export interface Daemon {
  proc: ChildProcess;
  metricsUrl: string;
  /** Parsed stdout event lines so far. */
  events: Record<string, unknown>[];
  /** Parsed stderr log records so far. */
  logs: Record<string, unknown>[];
  scrape(): Promise<Sample[]>;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function lines(stream: NodeJS.ReadableStream, onLine: (l: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** `node`: the Node binary that runs the daemon (default: the one running the tests). */
export async function startDaemon(args: string[], timeoutMs = 20_000, node = process.execPath): Promise<Daemon> {
  const proc = spawn(node, [CLI, 'run', '--metrics-addr', '127.0.0.1:0', '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Record<string, unknown>[] = [];
  const logs: Record<string, unknown>[] = [];
  const stderrText: string[] = [];
  lines(proc.stdout!, (l) => {
    try {
      events.push(JSON.parse(l));
    } catch {
      events.push({ unparsed: l });
    }
  });
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon not ready after ${timeoutMs} ms:\n${stderrText.join('\n')}`)), timeoutMs);
    lines(proc.stderr!, (l) => {
      stderrText.push(l);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(l);
      } catch {
        return;
      }
      logs.push(rec);
      if ((rec.msg ?? rec.message) === 'lightfoot ready') {
        clearTimeout(timer);
        resolve(String(rec.metrics));
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before ready:\n${stderrText.join('\n')}`));
    });
  });
  const metricsUrl = await ready;
  const exited = new Promise<number | null>((resolve) => {
    if (proc.exitCode !== null) resolve(proc.exitCode);
    else proc.on('exit', (code) => resolve(code));
  });
  return {
    proc,
    metricsUrl,
    events,
    logs,
    async scrape() {
      const res = await fetch(metricsUrl);
      return parseMetrics(await res.text());
    },
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns true or the deadline passes. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, stepMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
