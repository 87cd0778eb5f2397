/**
 * TLS test/bench fixtures: the shipped http1-requests example decoder built
 * with the SDK and subscribed to the openssl probe's streams, and a throwaway
 * self-signed certificate.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cleanup } from './process';
import { repoRoot } from './wasm-fixtures';

/** A --decoders directory holding http1-requests.wasm subscribed to `openssl` streams. */
export function buildHttp1ForTls(): string {
  const root = repoRoot();
  const project = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-http1-tls-'));
  cleanup.add(() => fs.rmSync(project, { recursive: true, force: true }));
  fs.cpSync(path.join(root, 'sdk', 'examples', 'http1-requests'), project, { recursive: true });
  const src = path.join(project, 'src', 'decoder.c');
  const text = fs.readFileSync(src, 'utf8');
  const subscribed = text.replace('lf_info_subscribe(ret, "tcp", NULL, 0, /*streams=*/true);', 'lf_info_subscribe(ret, "openssl", NULL, 0, /*streams=*/true);');
  if (subscribed === text) throw new Error('http1-requests no longer subscribes as expected: update test/helpers/tls.ts');
  fs.writeFileSync(src, subscribed);
  execFileSync(process.execPath, [path.join(root, 'dist', 'sdk', 'cli', 'main.js'), 'build', project], { stdio: 'pipe' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-http1-tls-dir-'));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(path.join(project, 'http1-requests.wasm'), path.join(dir, 'http1-requests.wasm'));
  return dir;
}

/** key.pem and cert.pem (EC P-256, CN=localhost) in a temp directory. */
export function makeCert(): { dir: string; key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-tls-cert-'));
  cleanup.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { dir, key, cert };
}
