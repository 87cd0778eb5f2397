import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { Counter, Registry } from 'prom-client';
import { ConfigError } from '../../runtime/errors';
import { nullLogger } from '../../runtime/log/logger';
import { startMetricsServer, type MetricsServer } from '../../runtime/metrics/server';

function registryWithOne(): Registry {
  const registry = new Registry();
  new Counter({ name: 'demo_total', help: 'Demo.', registers: [registry] }).inc(3);
  return registry;
}

async function withServer(fn: (srv: MetricsServer, base: string) => Promise<void>, registry = registryWithOne()) {
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0, registry, logger: nullLogger });
  try {
    await fn(srv, `http://127.0.0.1:${srv.address.port}`);
  } finally {
    await srv.close();
  }
}

test('GET /metrics serves the registry with its content type', async () => {
  await withServer(async (srv, base) => {
    assert.equal(srv.address.host, '127.0.0.1');
    assert.ok(srv.address.port > 0);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(await res.text(), '# HELP demo_total Demo.\n# TYPE demo_total counter\ndemo_total 3\n');
    const q = await fetch(`${base}/metrics?name[]=x`);
    assert.equal(q.status, 200);
    await q.text();
  });
});

test('/healthz, 404, 405, HEAD', async () => {
  await withServer(async (_srv, base) => {
    const h = await fetch(`${base}/healthz`);
    assert.deepEqual([h.status, await h.text()], [200, 'ok\n']);
    const nf = await fetch(`${base}/nope`);
    assert.deepEqual([nf.status, await nf.text()], [404, 'not found: try /metrics or /healthz\n']);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});

test('a failing collector gives 500, and the server keeps serving', async () => {
  const registry = new Registry();
  let fail = true;
  new Counter({
    name: 'flaky_total',
    help: 'Flaky.',
    registers: [registry],
    collect() {
      if (fail) throw new Error('collector bug');
    },
  });
  await withServer(async (_srv, base) => {
    const bad = await fetch(`${base}/metrics`);
    assert.equal(bad.status, 500);
    await bad.text();
    fail = false;
    const ok = await fetch(`${base}/metrics`);
    assert.equal(ok.status, 200);
    await ok.text();
  }, registry);
});

test('garbage from a client gets a 400 and does not crash the server', async () => {
  await withServer(async (srv, base) => {
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(srv.address.port, '127.0.0.1', () => sock.write('THIS IS NOT HTTP\r\n\r\n'));
      let data = '';
      sock.on('data', (d) => (data += d));
      sock.on('end', () => resolve(data));
      sock.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
    // Abrupt reset mid-request.
    await new Promise<void>((resolve) => {
      const sock = net.connect(srv.address.port, '127.0.0.1', () => {
        sock.write('GET /metr');
        sock.resetAndDestroy();
        resolve();
      });
    });
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    await res.text();
  });
});

test('IPv6 loopback', async (t) => {
  let srv: MetricsServer;
  try {
    srv = await startMetricsServer({ host: '::1', port: 0, registry: registryWithOne(), logger: nullLogger });
  } catch (err) {
    t.skip(`no IPv6 loopback: ${String(err)}`);
    return;
  }
  try {
    assert.equal(srv.address.host, '::1');
    const res = await fetch(`http://[::1]:${srv.address.port}/healthz`);
    assert.equal(res.status, 200);
    await res.text();
  } finally {
    await srv.close();
  }
});

test('port in use: ConfigError naming --metrics-addr', async () => {
  await withServer(async (srv) => {
    const port = srv.address.port;
    await assert.rejects(
      startMetricsServer({ host: '127.0.0.1', port, registry: new Registry(), logger: nullLogger }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.message, `cannot serve metrics on 127.0.0.1:${port}: address already in use`);
        assert.equal(
          e.hint,
          `another process listens on 127.0.0.1:${port}; pick a free port with --metrics-addr (e.g. --metrics-addr 127.0.0.1:9465, or port 0 for any free port)`,
        );
        return true;
      },
    );
  });
});

test('address not on this host: ConfigError with a hint', async () => {
  await assert.rejects(
    startMetricsServer({ host: '192.0.2.1', port: 0, registry: new Registry(), logger: nullLogger }),
    (e: unknown) => e instanceof ConfigError && /^cannot serve metrics on 192\.0\.2\.1:0: /.test(e.message) && /--metrics-addr 127\.0\.0\.1:PORT/.test(e.hint ?? ''),
  );
});

test('close is idempotent and drops keep-alive connections', async () => {
  const srv = await startMetricsServer({ host: '127.0.0.1', port: 0, registry: registryWithOne(), logger: nullLogger });
  const res = await fetch(`http://127.0.0.1:${srv.address.port}/metrics`);
  await res.text();
  await Promise.all([srv.close(), srv.close()]);
  await assert.rejects(fetch(`http://127.0.0.1:${srv.address.port}/healthz`));
});
