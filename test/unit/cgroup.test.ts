import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, NotSupportedError } from '../../runtime/errors';
import {
  CGROUP2_SUPER_MAGIC,
  cgroupContains,
  findCgroup2Mount,
  parseMountInfo,
  resolveCgroup,
  type CgroupFs,
} from '../../runtime/targets/cgroup';

const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime shared:9 - cgroup2 cgroup2 rw
`;
const UNIFIED = `29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`;

test('parseMountInfo handles optional fields and octal escapes', () => {
  const m = parseMountInfo('50 23 0:40 /a\\040b /mnt/with\\040space rw shared:1 master:2 - ext4 /dev/sda1 rw\nbroken line\n');
  assert.deepEqual(m, [{ root: '/a b', mountPoint: '/mnt/with space', fsType: 'ext4' }]);
});

test('findCgroup2Mount: hybrid host (unified) and pure v2 host', () => {
  assert.equal(findCgroup2Mount(HYBRID)!.mountPoint, '/sys/fs/cgroup/unified');
  assert.equal(findCgroup2Mount(UNIFIED)!.mountPoint, '/sys/fs/cgroup');
  assert.equal(findCgroup2Mount('35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n'), undefined);
});

function fakeFs(mountinfo: string, dirs: Record<string, { ino: bigint; type?: number; file?: boolean }>): CgroupFs {
  return {
    readMountInfo: () => mountinfo,
    stat: (p) => (dirs[p] ? { ino: dirs[p]!.ino, isDirectory: !dirs[p]!.file } : undefined),
    statfsType: (p) => dirs[p]?.type ?? CGROUP2_SUPER_MAGIC,
  };
}

test('resolveCgroup: relative, /proc-style and filesystem paths on a hybrid host', () => {
  const cgfs = fakeFs(HYBRID, {
    '/sys/fs/cgroup/unified': { ino: 1n },
    '/sys/fs/cgroup/unified/system.slice/nginx.service': { ino: 4242n },
  });
  const expected = {
    path: '/sys/fs/cgroup/unified/system.slice/nginx.service',
    cgroupPath: '/system.slice/nginx.service',
    id: 4242n,
  };
  for (const spec of ['system.slice/nginx.service', '/system.slice/nginx.service', '/sys/fs/cgroup/unified/system.slice/nginx.service/']) {
    assert.deepEqual(resolveCgroup(spec, cgfs), { spec, ...expected });
  }
  assert.deepEqual(resolveCgroup('/', cgfs), { spec: '/', path: '/sys/fs/cgroup/unified', cgroupPath: '/', id: 1n });
});

test('resolveCgroup errors say what to fix', () => {
  const cgfs = fakeFs(HYBRID, {
    '/sys/fs/cgroup/unified': { ino: 1n },
    '/sys/fs/cgroup/memory/x': { ino: 5n, type: 0x27e0eb },
    '/sys/fs/cgroup/unified/file': { ino: 6n, file: true },
  });
  assert.throws(() => resolveCgroup('nope.slice', cgfs), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, '--cgroup nope.slice: /sys/fs/cgroup/unified/nope.slice does not exist');
    assert.equal(
      e.hint,
      'pass a directory under the cgroup v2 mount /sys/fs/cgroup/unified, e.g. --cgroup system.slice/NAME.service (the "0::" line of `cat /proc/PID/cgroup`)',
    );
    return true;
  });
  assert.throws(() => resolveCgroup('/sys/fs/cgroup/memory/x', cgfs), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.message, '--cgroup /sys/fs/cgroup/memory/x: /sys/fs/cgroup/memory/x is not a cgroup v2 directory');
    assert.equal(e.hint, 'cgroup v2 is mounted at /sys/fs/cgroup/unified on this host; pass a path below it (cgroup v1 directories are not supported)');
    return true;
  });
  assert.throws(() => resolveCgroup('file', cgfs), /\/sys\/fs\/cgroup\/unified\/file is not a directory/);
  assert.throws(
    () => resolveCgroup('x', fakeFs('', {})),
    (e: unknown) => e instanceof NotSupportedError && e.feature === 'cgroup v2' && /no cgroup v2 hierarchy mounted/.test(e.message),
  );
});

test('cgroupContains: at or below, not siblings with a common prefix', () => {
  assert.ok(cgroupContains('/a', '/a'));
  assert.ok(cgroupContains('/a', '/a/b'));
  assert.ok(cgroupContains('/', '/anything'));
  assert.equal(cgroupContains('/a', '/ab'), false);
  assert.equal(cgroupContains('/a/b', '/a'), false);
});

const realMount = (() => {
  try {
    return findCgroup2Mount(fs.readFileSync('/proc/self/mountinfo', 'utf8'))?.mountPoint;
  } catch {
    return undefined;
  }
})();

test('real host: resolve the cgroup v2 root and refuse a non-cgroup directory', { skip: realMount ? false : 'no cgroup v2 mount' }, () => {
  const r = resolveCgroup('/');
  assert.equal(r.path, realMount);
  assert.equal(r.id, fs.statSync(realMount!, { bigint: true }).ino);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-cg-'));
  try {
    assert.throws(() => resolveCgroup(tmp), (e: unknown) => e instanceof ConfigError && e.message.endsWith('is not a cgroup v2 directory'));
  } finally {
    fs.rmSync(tmp, { recursive: true });
  }
});
