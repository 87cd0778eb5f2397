#!/usr/bin/env node
// Real HTTP/2 and gRPC peers for the http2 decoder tests (plain JS: runs on any
// node binary). Every role prints what it did, so tests compare exact counts.
//
//   node-server --port P [--tls KEY,CERT]           LISTENING <port>; /missing -> 404, /slow never answers,
//                                                   else 200 + body; SIGTERM: close (GOAWAY), exit
//   node-client --port P --requests N [--cancel K] [--ping] [--hold] [--tls]
//               [--duration-ms D --concurrency C]     throughput mode: DONE requests= seconds= rps=
//                                                   N requests on one session (every 5th /missing), K requests
//                                                   to /slow cancelled (RST_STREAM CANCEL), a PING; --hold:
//                                                   print READY after the first half and wait for "go" on stdin
//   grpc-server --port P [--tls KEY,CERT]           LISTENING <port>; lightfoot.test.Echo/Unary answers by the
//                                                   request text: ok, notfound (NOT_FOUND), internal (INTERNAL);
//                                                   lightfoot.test.Echo/Stream sends 3 messages
//   grpc-client --port P --plan ok:5,notfound:3,internal:2 [--stream N] [--tls CA]
//   Common: --comm NAME (process title = kernel comm, 15 bytes)
'use strict';
const fs = require('fs');
const http2 = require('http2');

const args = process.argv.slice(2);
const role = args[0];
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? def : args[i + 1];
};
const flag = (name) => args.includes(`--${name}`);
if (opt('comm')) process.title = opt('comm');

function tlsFiles() {
  const t = opt('tls');
  if (!t) return undefined;
  const [key, cert] = t.split(',');
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

async function nodeServer() {
  const tls = tlsFiles();
  const server = tls ? http2.createSecureServer(tls) : http2.createServer();
  const sessions = new Set();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  server.on('stream', (stream, headers) => {
    const p = headers[':path'];
    stream.on('error', () => {});
    if (p === '/slow') return; // the client cancels it
    stream.respond({ ':status': p === '/missing' ? 404 : 200, 'content-type': 'text/plain' });
    stream.end(`hello ${p}\n`);
  });
  server.listen(Number(opt('port', '0')), '127.0.0.1', () => console.log(`LISTENING ${server.address().port}`));
  process.on('SIGTERM', () => {
    // close() stops accepting and sends GOAWAY on every open session.
    server.close(() => process.exit(0));
    for (const s of sessions) s.close();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

function request(client, path) {
  return new Promise((resolve, reject) => {
    const r = client.request({ ':path': path, 'x-request-id': String(Math.random()).slice(2) });
    let status = 0;
    r.on('response', (h) => (status = h[':status']));
    r.on('error', reject);
    r.resume();
    r.on('end', () => resolve(status));
    r.end();
  });
}

async function nodeClient() {
  const port = opt('port');
  const n = Number(opt('requests', '10'));
  const cancel = Number(opt('cancel', '0'));
  const client = http2.connect(opt('tls') ? `https://localhost:${port}` : `http://127.0.0.1:${port}`, opt('tls') ? { ca: fs.readFileSync(opt('tls')) } : {});
  client.on('error', (e) => {
    console.error(`client error: ${e.message}`);
    process.exit(1);
  });
  const counts = { 200: 0, 404: 0 };
  const run = async (from, to) => {
    for (let i = from; i < to; i++) {
      const st = await request(client, i % 5 === 4 ? '/missing' : `/items/${1000 + i}`);
      counts[st] = (counts[st] || 0) + 1;
    }
  };
  if (opt('duration-ms')) {
    // Throughput mode: `concurrency` request loops for duration-ms on one session.
    const until = Date.now() + Number(opt('duration-ms'));
    let done = 0;
    const loop = async () => {
      while (Date.now() < until) {
        await request(client, `/items/${1000 + (done % 50)}`);
        done++;
      }
    };
    const t0 = process.hrtime.bigint();
    await Promise.all(Array.from({ length: Number(opt('concurrency', '1')) }, loop));
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    await new Promise((r) => client.close(r));
    console.log(`DONE requests=${done} seconds=${s.toFixed(3)} rps=${(done / s).toFixed(1)}`);
    return;
  }
  if (flag('hold')) {
    await run(0, Math.floor(n / 2));
    console.log('READY');
    await new Promise((r) => process.stdin.once('data', r));
    await run(Math.floor(n / 2), n);
  } else {
    await run(0, n);
  }
  let cancelled = 0;
  for (let i = 0; i < cancel; i++) {
    await new Promise((resolve) => {
      const r = client.request({ ':path': '/slow' });
      r.on('error', () => {});
      r.on('close', resolve);
      setTimeout(() => r.close(http2.constants.NGHTTP2_CANCEL), 50);
    });
    cancelled++;
  }
  let pingMs = -1;
  if (flag('ping')) pingMs = await new Promise((r) => client.ping(Buffer.from('lfping01'), (err, ms) => r(err ? -1 : ms)));
  await new Promise((r) => client.close(r));
  console.log(`DONE ok=${counts[200]} notfound=${counts[404]} cancelled=${cancelled} ping=${pingMs >= 0 ? 1 : 0}`);
}

function echoService(grpc) {
  const id = (b) => b;
  const m = (name, responseStream) => ({
    path: `/lightfoot.test.Echo/${name}`, requestStream: false, responseStream,
    requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id,
  });
  return { Unary: m('Unary', false), Stream: m('Stream', true) };
}

async function grpcServer() {
  const grpc = require('@grpc/grpc-js');
  const server = new grpc.Server();
  server.addService(echoService(grpc), {
    Unary(call, cb) {
      const what = call.request.toString();
      if (what === 'notfound') return cb({ code: grpc.status.NOT_FOUND, details: 'no such item: 42' });
      if (what === 'internal') return cb({ code: grpc.status.INTERNAL, details: 'it broke' });
      cb(null, Buffer.from(`echo ${what}`));
    },
    Stream(call) {
      for (let i = 0; i < 3; i++) call.write(Buffer.from(`part ${i}`));
      call.end();
    },
  });
  const tls = tlsFiles();
  const creds = tls ? grpc.ServerCredentials.createSsl(null, [{ private_key: tls.key, cert_chain: tls.cert }], false) : grpc.ServerCredentials.createInsecure();
  server.bindAsync(`127.0.0.1:${opt('port', '0')}`, creds, (err, port) => {
    if (err) {
      console.error(err.message);
      process.exit(1);
    }
    console.log(`LISTENING ${port}`);
  });
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
}

async function grpcClient() {
  const grpc = require('@grpc/grpc-js');
  const Client = grpc.makeGenericClientConstructor(echoService(grpc), 'Echo');
  const creds = opt('tls') ? grpc.credentials.createSsl(fs.readFileSync(opt('tls'))) : grpc.credentials.createInsecure();
  const client = new Client(opt('tls') ? `localhost:${opt('port')}` : `127.0.0.1:${opt('port')}`, creds);
  const got = {};
  for (const part of opt('plan', 'ok:1').split(',')) {
    const [what, n] = part.split(':');
    for (let i = 0; i < Number(n); i++) {
      const code = await new Promise((r) => client.Unary(Buffer.from(what), (err) => r(err ? err.code : 0)));
      got[code] = (got[code] || 0) + 1;
    }
  }
  let parts = 0;
  for (let i = 0; i < Number(opt('stream', '0')); i++) {
    await new Promise((resolve, reject) => {
      const call = client.Stream(Buffer.from('s'));
      call.on('data', () => parts++);
      call.on('error', reject);
      call.on('end', resolve);
    });
  }
  client.close();
  console.log(`DONE codes=${JSON.stringify(got)} streamed=${parts}`);
}

const roles = { 'node-server': nodeServer, 'node-client': nodeClient, 'grpc-server': grpcServer, 'grpc-client': grpcClient };
if (!roles[role]) {
  console.error(`usage: h2-peers.js ${Object.keys(roles).join('|')} [options]`);
  process.exit(2);
}
roles[role]().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
