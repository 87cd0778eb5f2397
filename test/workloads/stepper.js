#!/usr/bin/env node
// A TCP peer driven one step at a time over stdin, for tests that need to act
// between two transfers (restart the daemon, kill a process). One command per
// line; each answers one line on stdout.
//   listen              -> LISTENING <port>       accept one connection, count what it reads
//   connect HOST PORT   -> CONNECTED <localport>
//   send N              -> SENT <total sent>      (waits until written to the kernel)
//   received            -> RECEIVED <total read by the listener side>
//   close               -> CLOSED
//   exit                -> exits 0
'use strict';
const net = require('node:net');
const readline = require('node:readline');

let sock;
let received = 0;
let sent = 0;
const say = (line) => process.stdout.write(`${line}\n`);

const commands = {
  listen() {
    const server = net.createServer((s) => {
      sock = s;
      s.on('data', (d) => (received += d.length));
      s.on('error', () => {});
      server.close();
    });
    server.listen(0, '127.0.0.1', () => say(`LISTENING ${server.address().port}`));
  },
  connect(host, port) {
    sock = net.connect(Number(port), host, () => say(`CONNECTED ${sock.localPort}`));
    sock.on('data', (d) => (received += d.length));
    sock.on('error', (e) => say(`ERROR ${e.code}`));
  },
  send(n) {
    sent += Number(n);
    sock.write(Buffer.alloc(Number(n), 'x'), () => say(`SENT ${sent}`));
  },
  received() {
    say(`RECEIVED ${received}`);
  },
  close() {
    sock.end(() => say('CLOSED'));
  },
  exit() {
    process.exit(0);
  },
};

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, ...args] = line.trim().split(/\s+/);
  const fn = commands[cmd];
  if (fn) fn(...args);
  else say(`ERROR unknown command ${cmd}`);
});
