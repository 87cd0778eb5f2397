import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { UsageError, formatErrorLine } from '../../runtime/errors';
import {
  formatAddr,
  parseMetricsAddr,
  parseRingBufferSize,
  parseRunOptions,
  type RawRunOptions,
} from '../../runtime/cli/options';

function errorLine(raw: RawRunOptions): string {
  try {
    parseRunOptions(raw);
  } catch (err) {
    assert.ok(err instanceof UsageError, String(err));
    assert.equal(err.code, 'LF_ERR_USAGE');
    return formatErrorLine(err);
  }
  assert.fail('expected a UsageError');
}

test('defaults', () => {
  assert.deepEqual(parseRunOptions({ pid: ['42'] }), {
    pids: [42],
    comms: [],
    cgroups: [],
    all: false,
    metricsAddr: { host: '127.0.0.1', port: 9464 },
    logFormat: 'json',
    logLevel: 'info',
    maxSeries: 10000,
    flushIntervalMs: 5000,
    rescanIntervalMs: 1000,
    ringBufferBytes: 8 * 1024 * 1024,
    events: true,
    bpfStats: false,
    capture: ['openssl'],
  });
  assert.equal(parseRunOptions({ all: true }, { stderrIsTTY: true }).logFormat, 'pretty');
});

test('--capture: probe names, all or none; bad lists name the fix', () => {
  assert.deepEqual(parseRunOptions({ all: true, capture: ['tcp,openssl', 'tcp'] }).capture, ['tcp', 'openssl']);
  assert.deepEqual(parseRunOptions({ all: true, capture: ['none'] }).capture, []);
  assert.deepEqual(parseRunOptions({ all: true, capture: ['all'] }).capture, ['all']);
  assert.match(errorLine({ all: true, capture: ['tcp,'] }), /--capture: empty entry.*--capture tcp,openssl/);
  assert.match(errorLine({ all: true, capture: ['TCP!'] }), /--capture "TCP!": not a probe name/);
  assert.match(errorLine({ all: true, capture: ['none,tcp'] }), /"all" and "none" stand alone/);
});

test('every flag parsed', () => {
  const o = parseRunOptions({
    pid: ['1,2', '2', '3'],
    comm: ['nginx', 'my app', 'nginx'],
    cgroup: ['system.slice/x.service'],
    metricsAddr: '[::1]:0',
    logFormat: 'pretty',
    logLevel: 'debug',
    maxSeries: '50',
    flushIntervalMs: '250',
    rescanIntervalMs: '2000',
    ringBufferSize: '64KiB',
    events: false,
  });
  assert.deepEqual(o.pids, [1, 2, 3]);
  assert.deepEqual(o.comms, ['nginx', 'my app']);
  assert.deepEqual(o.cgroups, ['system.slice/x.service']);
  assert.deepEqual(o.metricsAddr, { host: '::1', port: 0 });
  assert.equal(o.logFormat, 'pretty');
  assert.equal(o.logLevel, 'debug');
  assert.equal(o.maxSeries, 50);
  assert.equal(o.flushIntervalMs, 250);
  assert.equal(o.rescanIntervalMs, 2000);
  assert.equal(o.ringBufferBytes, 65536);
  assert.equal(o.events, false);
});

test('selector rules', () => {
  assert.equal(
    errorLine({}),
    'lightfoot: no processes selected (pass --pid PID, --comm NAME, --cgroup PATH (each repeatable) or --all, or --control-addr for pods pushed by the Kubernetes watcher)',
  );
  assert.equal(
    errorLine({ all: true, comm: ['x'] }),
    'lightfoot: --all cannot be combined with --pid, --comm or --cgroup (drop --all to watch only the selected processes, or drop the other selectors to watch every process)',
  );
});

test('pid must be a positive integer', () => {
  for (const bad of ['0', '-1', 'abc', '1.5', '1e3', '', '4194305']) {
    assert.match(errorLine({ pid: [bad] }), /: a pid must be a positive integer up to 4194304 \(find the pid with `pgrep NAME` or `ps -e`\)$/, bad);
  }
  assert.equal(
    errorLine({ pid: ['0'] }),
    'lightfoot: --pid 0: a pid must be a positive integer up to 4194304 (find the pid with `pgrep NAME` or `ps -e`)',
  );
  assert.equal(
    errorLine({ pid: ['12,'] }),
    'lightfoot: --pid "": a pid must be a positive integer up to 4194304 (find the pid with `pgrep NAME` or `ps -e`)',
  );
});

test('comm: non-empty, at most 15 bytes (TASK_COMM_LEN)', () => {
  assert.deepEqual(parseRunOptions({ comm: ['123456789012345'] }).comms, ['123456789012345']);
  assert.equal(
    errorLine({ comm: ['1234567890123456'] }),
    'lightfoot: --comm 1234567890123456: 16 bytes, but the kernel keeps only the first 15 bytes of a command name (TASK_COMM_LEN) (use --comm 123456789012345, the name shown by `ps -o comm= -p PID`)',
  );
  // Multi-byte: 8 × "é" is 16 bytes although only 8 characters.
  assert.match(errorLine({ comm: ['éééééééé'] }), /16 bytes, but the kernel keeps only the first 15 bytes/);
  assert.equal(errorLine({ comm: [''] }), 'lightfoot: --comm "": the command name is empty (pass the name shown by `ps -o comm= -p PID`)');
});

test('cgroup: non-empty', () => {
  assert.match(errorLine({ cgroup: [' '] }), /^lightfoot: --cgroup "": the cgroup path is empty \(pass a directory under the cgroup v2 mount/);
});

test('metrics address', () => {
  assert.deepEqual(parseMetricsAddr('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
  assert.deepEqual(parseMetricsAddr('0.0.0.0:0'), { host: '0.0.0.0', port: 0 });
  assert.deepEqual(parseMetricsAddr('localhost:80'), { host: 'localhost', port: 80 });
  assert.deepEqual(parseMetricsAddr('[::]:9464'), { host: '::', port: 9464 });
  assert.deepEqual(parseMetricsAddr('[fe80::1%eth0]:9464'), { host: 'fe80::1%eth0', port: 9464 });
  assert.equal(formatAddr({ host: '::1', port: 1 }), '[::1]:1');
  assert.equal(formatAddr({ host: '10.0.0.1', port: 1 }), '10.0.0.1:1');
  const line = (addr: string) => errorLine({ all: true, metricsAddr: addr });
  assert.equal(line('::1:9464'), 'lightfoot: --metrics-addr ::1:9464: IPv6 addresses need brackets (write it as [::1]:9464)');
  assert.equal(
    line(':9464'),
    'lightfoot: --metrics-addr :9464: missing host (write 127.0.0.1:PORT for local scrapes or 0.0.0.0:PORT to serve on every interface)',
  );
  assert.equal(
    line('127.0.0.1:70000'),
    'lightfoot: --metrics-addr 127.0.0.1:70000: port 70000 is not a number from 0 to 65535 (use HOST:PORT, e.g. 127.0.0.1:9464, 0.0.0.0:9464 or [::1]:9464 (port 0 picks a free port))',
  );
  assert.match(line('127.0.0.1'), /missing port/);
  assert.match(line('[::1]9464'), /expected \[IPv6\]:PORT/);
  assert.match(line('[zz]:1'), /"?zz"? is not an IPv6 address/);
  assert.match(line('a b:1'), /is not a host name or IPv4 address/);
});

test('log format and level choices', () => {
  assert.equal(errorLine({ all: true, logFormat: 'xml' }), 'lightfoot: --log-format xml: unknown value (use one of: json, pretty, cloud)');
  assert.equal(errorLine({ all: true, logLevel: 'trace' }), 'lightfoot: --log-level trace: unknown value (use one of: error, warn, info, debug)');
});

test('integer flags', () => {
  assert.equal(
    errorLine({ all: true, maxSeries: '0' }),
    'lightfoot: --max-series 0: expected a whole number from 1 to 10000000 (see `lightfoot run --help`; the default is 10000)',
  );
  assert.equal(
    errorLine({ all: true, flushIntervalMs: '5s' }),
    'lightfoot: --flush-interval-ms 5s: expected a whole number from 100 to 3600000 (see `lightfoot run --help`; the default is 5000)',
  );
  assert.match(errorLine({ all: true, rescanIntervalMs: '50' }), /--rescan-interval-ms 50: expected a whole number from 100 to 3600000/);
});

test('ring buffer size: power of two, 64KiB..1GiB', () => {
  assert.equal(parseRingBufferSize('65536'), 65536);
  assert.equal(parseRingBufferSize('8M'), 8 * 1024 * 1024);
  assert.equal(parseRingBufferSize('8mib'), 8 * 1024 * 1024);
  assert.equal(parseRingBufferSize('1GiB'), 1024 ** 3);
  assert.equal(
    errorLine({ all: true, ringBufferSize: '3MiB' }),
    'lightfoot: --ring-buffer-size 3MiB: 3145728 bytes is not a power of two (the kernel needs a power of two; try 2MiB or 4MiB)',
  );
  assert.equal(
    errorLine({ all: true, ringBufferSize: '4096' }),
    'lightfoot: --ring-buffer-size 4096: 4096 bytes is outside 64KiB..1GiB (use a power of two from 64KiB to 1GiB, e.g. --ring-buffer-size 8MiB)',
  );
  assert.match(errorLine({ all: true, ringBufferSize: '2GiB' }), /outside 64KiB\.\.1GiB/);
  assert.match(errorLine({ all: true, ringBufferSize: 'lots' }), /--ring-buffer-size lots: not a size/);
});

test('property: parser either returns valid options or throws a UsageError with a hint', () => {
  const text = fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{1,8}$/), fc.constantFrom('0', '-1', '1,2', '65536', '8MiB', '[::1]:0'));
  const raw = fc.record(
    {
      pid: fc.array(text, { maxLength: 3 }),
      comm: fc.array(fc.string({ maxLength: 20 }), { maxLength: 3 }),
      cgroup: fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 }),
      all: fc.boolean(),
      metricsAddr: text,
      maxSeries: text,
      ringBufferSize: text,
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(raw, (r) => {
      let o;
      try {
        o = parseRunOptions(r);
      } catch (err) {
        assert.ok(err instanceof UsageError, `not a UsageError: ${String(err)}`);
        assert.ok(err.hint && err.hint.length > 0, 'every usage error says how to fix it');
        assert.ok(!formatErrorLine(err).includes('\n'));
        return;
      }
      assert.ok(o.all !== o.pids.length + o.comms.length + o.cgroups.length > 0);
      for (const p of o.pids) assert.ok(Number.isInteger(p) && p > 0);
      for (const c of o.comms) assert.ok(c.length > 0 && Buffer.byteLength(c) <= 15);
      assert.ok(o.metricsAddr.port >= 0 && o.metricsAddr.port <= 65535);
      assert.equal(o.ringBufferBytes & (o.ringBufferBytes - 1), 0);
      assert.ok(o.ringBufferBytes >= 65536);
    }),
    { numRuns: 2000 },
  );
});

test('Kubernetes mode: --control-addr needs a token file, selects pods without other selectors', () => {
  const o = parseRunOptions(
    { controlAddr: '0.0.0.0:9465', controlTokenFile: '/t', podLabel: ['app', 'app.kubernetes.io/name'] },
    { env: { NODE_NAME: 'node-1' } },
  );
  assert.deepEqual(o.control, {
    addr: { host: '0.0.0.0', port: 9465 },
    tokenFile: '/t',
    nodeName: 'node-1',
    podLabels: ['app', 'app.kubernetes.io/name'],
    pidLabel: false,
    cgroupRoot: '/',
  });
  assert.equal(parseRunOptions({ controlAddr: '127.0.0.1:0', controlTokenFile: '/t', nodeName: 'n2', pidLabel: true }).control?.pidLabel, true);
  assert.deepEqual(
    parseRunOptions({ controlAddr: '127.0.0.1:0', controlTokenFile: '/t', controlTlsCert: '/c', controlTlsKey: '/k' }, { env: {}, hostname: 'vm' }).control?.tls,
    { certFile: '/c', keyFile: '/k' },
  );
  assert.match(errorLine({ controlAddr: '127.0.0.1:9465' }), /--control-addr needs --control-token-file/);
  assert.match(errorLine({ controlAddr: ':9465', controlTokenFile: '/t' }), /--control-addr :9465: missing host/);
  assert.match(errorLine({ all: true, controlTokenFile: '/t' }), /--control-token-file needs --control-addr/);
  assert.match(errorLine({ all: true, podLabel: ['app'] }), /--pod-label needs --control-addr/);
  assert.match(errorLine({ controlAddr: '127.0.0.1:1', controlTokenFile: '/t', controlTlsCert: '/c' }), /go together/);
  assert.match(errorLine({ controlAddr: '127.0.0.1:1', controlTokenFile: '/t', nodeName: 'Bad_Node' }), /--node-name Bad_Node: not a Kubernetes node name/);
  assert.match(errorLine({ controlAddr: '127.0.0.1:1', controlTokenFile: '/t', nodeName: 'n', podLabel: ['a b'] }), /--pod-label "a b": not a Kubernetes label key/);
  assert.match(errorLine({ controlAddr: '127.0.0.1:1', controlTokenFile: '/t', nodeName: 'n', kubeCgroupRoot: 'kubelet' }), /expected an absolute cgroup path/);
});

test('--export-dir with size and count bounds', () => {
  assert.deepEqual(parseRunOptions({ all: true, exportDir: '/var/log/lf' }).export, { dir: '/var/log/lf', maxBytes: 64 * 1024 * 1024, maxFiles: 5 });
  assert.deepEqual(parseRunOptions({ all: true, exportDir: '/d', exportMaxBytes: '1MiB', exportMaxFiles: '3' }).export, { dir: '/d', maxBytes: 1024 * 1024, maxFiles: 3 });
  assert.match(errorLine({ all: true, exportMaxBytes: '1MiB' }), /need --export-dir/);
  assert.match(errorLine({ all: true, exportDir: '/d', exportMaxFiles: '1' }), /--export-max-files 1: expected a whole number from 2 to 1000/);
  assert.match(errorLine({ all: true, exportDir: '/d', exportMaxBytes: '12' }), /outside 4KiB..64GiB/);
  assert.equal(parseRunOptions({ all: true, logFormat: 'cloud' }).logFormat, 'cloud');
});
