/**
 * Process helpers for tests: spawn workloads (optionally inside a netns via
 * `ip netns exec`, which execs in place so `pid` is the workload's own pid),
 * wait for output lines with timeouts, and always clean up.
 */
import { spawn, ChildProcess } from 'node:child_process';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnWorkloadOptions {
  /** Run inside this network namespace (`ip netns exec <netns> bin args`). */
  netns?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Hard limit: SIGKILL the process after this many ms (default 120000; 0 = none). */
  timeoutMs?: number;
  /** Register in the global `cleanup` registry (default true). */
  autoCleanup?: boolean;
  /** Keep stdin open as a pipe, for workloads driven by commands (stepper.js). */
  stdin?: boolean;
}

export interface WorkloadHandle {
  readonly pid: number;
  readonly command: string[];
  /** All complete stdout lines so far. */
  readonly lines: string[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line (past or future) matching `re`. */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves once the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves with exit info once it exited; rejects if it does not exit within timeoutMs. */
  waitExit(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGTERM (default), escalate to SIGKILL after graceMs; resolves when exited. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<ExitInfo>;
  readonly hasExited: boolean;
  /** Writes one command line to stdin (needs `stdin: true`). */
  send(line: string): void;
}

type CleanupFn = () => unknown | Promise<unknown>;

/** Registry of cleanup actions; call `await cleanup.run()` in `after`/`afterEach`. */
export class CleanupRegistry {
  private fns: CleanupFn[] = [];
  add(fn: CleanupFn): () => void {
    this.fns.push(fn);
    return () => {
      const i = this.fns.indexOf(fn);
      if (i >= 0) this.fns.splice(i, 1);
    };
  }
  get size(): number {
    return this.fns.length;
  }
  /** Runs all actions in reverse registration order; errors are collected, never thrown early. */
  async run(): Promise<void> {
    const errors: unknown[] = [];
    while (this.fns.length) {
      const fn = this.fns.pop()!;
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) {
      throw new AggregateError(errors, `cleanup: ${errors.length} action(s) failed`);
    }
  }
}

export const cleanup = new CleanupRegistry();

const live = new Set<ChildProcess>();
process.once('exit', () => {
  // last-resort: never leave workloads behind if a test forgot cleanup.run()
  for (const cp of live) {
    try { cp.kill('SIGKILL'); } catch { /* ignore */ }
  }
});

function tail(s: string, n = 2000): string {
  return s.length > n ? '…' + s.slice(-n) : s;
}

export function spawnWorkload(bin: string, args: string[], opts: SpawnWorkloadOptions = {}): WorkloadHandle {
  const command = opts.netns ? ['ip', 'netns', 'exec', opts.netns, bin, ...args] : [bin, ...args];
  const cp = spawn(command[0], command.slice(1), {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (cp.pid === undefined) {
    // spawn failure is reported via 'error'; pid is undefined synchronously
    throw new Error(`failed to spawn ${command.join(' ')}`);
  }
  live.add(cp);

  let out = '';
  let err = '';
  let partial = '';
  const lines: string[] = [];
  const waiters = new Set<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  let exitInfo: ExitInfo | undefined;

  cp.stdout!.setEncoding('utf8');
  cp.stderr!.setEncoding('utf8');
  cp.stdout!.on('data', (chunk: string) => {
    out += chunk;
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        const m = line.match(w.re);
        if (m) {
          waiters.delete(w);
          w.resolve(m);
        }
      }
    }
  });
  cp.stderr!.on('data', (chunk: string) => {
    err += chunk;
  });

  const exited = new Promise<ExitInfo>((resolve) => {
    let done = false;
    const finish = (info: ExitInfo) => {
      if (done) return;
      done = true;
      exitInfo = info;
      live.delete(cp);
      clearTimeout(hardTimer);
      resolve(info);
    };
    // 'close' fires after stdio is drained, so all output is collected
    cp.on('close', (code, signal) => finish({ code, signal }));
    cp.on('error', (e) => {
      err += `\n[spawn error] ${e.message}`;
      finish({ code: null, signal: null });
    });
  });

  const hardMs = opts.timeoutMs ?? 120_000;
  const hardTimer = setTimeout(() => {
    err += `\n[killed by spawnWorkload after ${hardMs} ms]`;
    try { cp.kill('SIGKILL'); } catch { /* ignore */ }
  }, hardMs > 0 ? hardMs : 2 ** 31 - 1);
  hardTimer.unref();

  const describe = () =>
    `${command.join(' ')} (pid ${cp.pid})\n--- stdout ---\n${tail(out)}\n--- stderr ---\n${tail(err)}`;

  const handle: WorkloadHandle = {
    pid: cp.pid,
    command,
    lines,
    stdout: () => out,
    stderr: () => err,
    send(line: string) {
      if (!cp.stdin) throw new Error('spawnWorkload: pass { stdin: true } to send commands');
      cp.stdin.write(`${line}\n`);
    },
    get hasExited() {
      return exitInfo !== undefined;
    },
    exited,
    waitForLine(re: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
      for (const line of lines) {
        const m = line.match(re);
        if (m) return Promise.resolve(m);
      }
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const w = {
          re,
          resolve: (m: RegExpMatchArray) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          reject(new Error(`timeout (${timeoutMs} ms) waiting for ${re} from ${describe()}`));
        }, timeoutMs);
        waiters.add(w);
        void exited.then((info) => {
          if (!waiters.has(w)) return;
          // the final line may lack a newline
          const m = partial.match(re);
          waiters.delete(w);
          clearTimeout(timer);
          if (m) resolve(m);
          else reject(new Error(`process exited (code ${info.code}, signal ${info.signal}) before printing ${re}: ${describe()}`));
        });
      });
    },
    waitExit(timeoutMs = 30_000): Promise<ExitInfo> {
      if (exitInfo) return Promise.resolve(exitInfo);
      return new Promise<ExitInfo>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timeout (${timeoutMs} ms) waiting for exit of ${describe()}`)),
          timeoutMs,
        );
        void exited.then((info) => {
          clearTimeout(timer);
          resolve(info);
        });
      });
    },
    async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<ExitInfo> {
      if (exitInfo) return exitInfo;
      try { cp.kill(signal); } catch { /* ignore */ }
      const t = setTimeout(() => {
        try { cp.kill('SIGKILL'); } catch { /* ignore */ }
      }, graceMs);
      const info = await exited;
      clearTimeout(t);
      return info;
    },
  };

  if (opts.autoCleanup !== false) {
    const unregister = cleanup.add(() => handle.kill('SIGTERM', 2000));
    void exited.then(unregister);
  }
  return handle;
}

export interface StartedServer {
  handle: WorkloadHandle;
  port: number;
}

/**
 * Spawns a server-type workload and waits for `LISTENING <port>`.
 * `args` should include `--port 0` (or a fixed port). Kills the process on failure.
 */
export async function startServer(
  bin: string,
  args: string[],
  opts: SpawnWorkloadOptions & { readyTimeoutMs?: number } = {},
): Promise<StartedServer> {
  const handle = spawnWorkload(bin, args, opts);
  try {
    const m = await handle.waitForLine(/^LISTENING (\d+)$/, opts.readyTimeoutMs ?? 10_000);
    return { handle, port: Number(m[1]) };
  } catch (e) {
    await handle.kill('SIGKILL');
    throw e;
  }
}

/**
 * Parses `KEY a=1 b=2` style lines into numbers (non-numeric values are skipped).
 * Accepts a line or a waitForLine() match (uses the whole matched line).
 */
export function parseKv(lineOrMatch: string | RegExpMatchArray): Record<string, number> {
  const line = typeof lineOrMatch === 'string' ? lineOrMatch : lineOrMatch.input ?? lineOrMatch[0];
  const r: Record<string, number> = {};
  for (const m of line.matchAll(/(\w+)=(-?\d+(?:\.\d+)?)(?=\s|$)/g)) r[m[1]] = Number(m[2]);
  return r;
}
