/**
 * Compiles the C workloads into a cache directory OUTSIDE the repo, keyed by
 * sha256(source + compiler command), so rebuilds only happen when the source
 * (or the flags) change. Concurrent callers are safe: each compiles to a
 * unique temp file and atomically renames it into place.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Default cache root (under LIGHTFOOT_CACHE like every build cache); override with LIGHTFOOT_WORKLOAD_CACHE. */
const CACHE_ROOT = process.env.LIGHTFOOT_CACHE || '/var/cache/lightfoot';
export const DEFAULT_CACHE_DIR = `${CACHE_ROOT}/workloads`;

const CC = process.env.CC || 'cc';
const CFLAGS = ['-O2', '-Wall', '-Wextra', '-Werror'];

export interface Workloads {
  /** Absolute path of the compiled tcp_workload binary. */
  tcpWorkload: string;
}

/** Absolute path of the C source (works from the repo and from an outDir build). */
export function tcpWorkloadSource(): string {
  const candidates = [
    path.resolve(__dirname, 'tcp_workload.c'),
    // compiled JS lives in <outDir>/test/workloads/; the source stays in the repo
    path.resolve(__dirname, '..', '..', '..', 'test', 'workloads', 'tcp_workload.c'),
    path.resolve(process.cwd(), 'test', 'workloads', 'tcp_workload.c'),
    '/work/main/test/workloads/tcp_workload.c',
  ];
  if (process.env.LIGHTFOOT_REPO) {
    candidates.unshift(path.join(process.env.LIGHTFOOT_REPO, 'test', 'workloads', 'tcp_workload.c'));
  }
  for (const c of candidates) if (fs.existsSync(c)) return c;
  throw new Error(`tcp_workload.c not found (looked in: ${candidates.join(', ')})`);
}

function cacheRoot(): string {
  const wanted = process.env.LIGHTFOOT_WORKLOAD_CACHE || DEFAULT_CACHE_DIR;
  try {
    fs.mkdirSync(wanted, { recursive: true });
    fs.accessSync(wanted, fs.constants.W_OK);
    return wanted;
  } catch {
    // not root: fall back to a per-user temp dir (still outside the repo)
    const fallback = path.join(os.tmpdir(), `lightfoot-workloads-${process.getuid?.() ?? 'u'}`);
    fs.mkdirSync(fallback, { recursive: true });
    return fallback;
  }
}

async function compileCached(src: string, name: string, libs: string[] = []): Promise<string> {
  const source = fs.readFileSync(src);
  const hash = createHash('sha256')
    .update(source)
    .update('\0' + CC + '\0' + CFLAGS.join(' ') + '\0' + libs.join(' '))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(cacheRoot(), hash);
  const out = path.join(dir, name);
  if (fs.existsSync(out)) return out;
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await execFileP(CC, [...CFLAGS, '-o', tmp, src, ...libs], { timeout: 120_000 });
    fs.renameSync(tmp, out);
  } catch (err) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* ignore */ }
    const e = err as { stderr?: string; message: string };
    throw new Error(`compiling ${src} failed: ${e.stderr || e.message}`);
  }
  return out;
}

let pending: Promise<Workloads> | undefined;

/** Builds (or reuses from cache) all workloads; memoized per process. */
export function buildWorkloads(): Promise<Workloads> {
  if (!pending) {
    pending = (async () => ({
      tcpWorkload: await compileCached(tcpWorkloadSource(), 'tcp_workload'),
    }))();
    pending.catch(() => { pending = undefined; });
  }
  return pending;
}

export interface TlsClients {
  /** tls_client.c linked to the shared libssl.so.3. */
  shared: string;
  /** tls_client.c with libssl.a and libcrypto.a linked in (libc stays shared). */
  static: string;
  /** tls-rs/boring-client: Rust, BoringSSL linked statically (the `boring` crate). */
  boring: string;
  /** tls-rs/ossl-client: Rust, OpenSSL 1.1.1 linked statically (`openssl` + openssl-src 111). */
  openssl111: string;
}

/** Where the Rust TLS clients are built: outside the checkout, so a fresh clone reuses it. */
export function tlsRsTargetDir(): string {
  return `${CACHE_ROOT}/tls-rs-target`;
}

function cargoBin(): string {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (dir && fs.existsSync(path.join(dir, 'cargo'))) return path.join(dir, 'cargo');
  }
  return path.join(os.homedir(), '.cargo', 'bin', 'cargo');
}

let pendingRs: Promise<{ boring: string; openssl111: string }> | undefined;

/**
 * The Rust clients of test/workloads/tls-rs/ (one cargo workspace, Cargo.lock
 * committed, --locked). Cargo's own freshness check makes a warm call cheap;
 * a cold one builds BoringSSL (cmake) and OpenSSL 1.1.1 from source: minutes.
 */
function buildTlsRs(): Promise<{ boring: string; openssl111: string }> {
  if (!pendingRs) {
    pendingRs = (async () => {
      const manifest = path.join(path.dirname(tcpWorkloadSource()), 'tls-rs', 'Cargo.toml');
      const target = tlsRsTargetDir();
      fs.mkdirSync(target, { recursive: true });
      process.stderr.write(`workloads: cargo build --release ${manifest} (boring-client: BoringSSL, ossl-client: OpenSSL 1.1.1) into ${target}; a cold build takes minutes\n`);
      try {
        await execFileP(cargoBin(), ['build', '--release', '--locked', '--manifest-path', manifest], {
          env: { ...process.env, CARGO_TARGET_DIR: target, CARGO_BUILD_JOBS: process.env.CARGO_BUILD_JOBS || '2' },
          timeout: 45 * 60_000,
          maxBuffer: 64 << 20,
        });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`building ${manifest} failed: ${(e.stderr || e.message).slice(-4000)}`);
      }
      return {
        boring: path.join(target, 'release', 'boring-client'),
        openssl111: path.join(target, 'release', 'ossl-client'),
      };
    })();
    pendingRs.catch(() => { pendingRs = undefined; });
  }
  return pendingRs;
}

/** The TLS client workloads: tls_client.c both ways of linking OpenSSL (Debian libssl-dev), and the Rust clients. */
export async function buildTlsClients(): Promise<TlsClients> {
  const src = tcpWorkloadSource().replace(/tcp_workload\.c$/, 'tls_client.c');
  return {
    shared: await compileCached(src, 'tls_client', ['-lssl', '-lcrypto']),
    static: await compileCached(src, 'tls_client_static', ['-Wl,-Bstatic', '-lssl', '-lcrypto', '-Wl,-Bdynamic', '-ldl', '-lpthread']),
    ...(await buildTlsRs()),
  };
}
