#!/usr/bin/env node
// The bundled demo workload: a small TCP request/response service and its
// client in one process, so `lightfoot run --pid <this pid>` has something to
// watch. Every 250 ms the client opens a connection, sends a request, reads
// the reply and closes; every 10th connection is aborted with an RST; one
// long-lived connection pings every 100 ms (periodic counter flushes).
'use strict';
const net = require('node:net');

const server = net.createServer((sock) => {
  sock.on('data', (d) => sock.write(d));
  sock.on('end', () => sock.end());
  sock.on('error', () => {});
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`demo: serving on 127.0.0.1:${port} (pid ${process.pid})\n`);
  let n = 0;
  setInterval(() => {
    const abort = ++n % 10 === 0;
    const c = net.connect(port, '127.0.0.1', () => {
      c.write(Buffer.alloc(1024 + (n % 4) * 1024, 'x'));
      if (abort) setTimeout(() => c.resetAndDestroy(), 20);
      else c.end();
    });
    c.on('data', () => {});
    c.on('error', () => {});
  }, 250);
  const keep = net.connect(port, '127.0.0.1');
  keep.on('data', () => {});
  keep.on('error', () => {});
  setInterval(() => keep.write('ping\n'), 100);
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
