import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UsageError } from '../../runtime/errors';
import { WATCHER_DEFAULTS, parseWatcherOptions } from '../../runtime/watcher/options';

const base = { tokenFile: '/t' };

test('defaults', () => {
  const o = parseWatcherOptions(base, { POD_NAMESPACE: 'lightfoot', POD_NAME: 'w-1' });
  assert.equal(o.selector, 'lightfoot=enable');
  assert.equal(o.daemonSelector, WATCHER_DEFAULTS.daemonSelector);
  assert.equal(o.daemonNamespace, 'lightfoot');
  assert.equal(o.leaseNamespace, 'lightfoot');
  assert.equal(o.leaseName, 'lightfoot-watcher');
  assert.match(o.identity, /^w-1_\d+$/);
  assert.deepEqual(o.metricsAddr, { host: '0.0.0.0', port: 9465 });
  assert.deepEqual([o.includeNamespaces, o.excludeNamespaces, o.podLabels], [[], [], []]);
});

test('lists are split, deduplicated and validated', () => {
  const o = parseWatcherOptions({ ...base, namespace: ['a,b', 'a'], excludeNamespace: ['kube-system'], podLabel: ['app', 'app.kubernetes.io/name'] }, {});
  assert.deepEqual(o.includeNamespaces, ['a', 'b']);
  assert.deepEqual(o.podLabels, ['app', 'app.kubernetes.io/name']);
});

test('bad flags are refused with the flag named', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /--token-file is required/],
    [{ ...base, namespace: ['Bad_NS'] }, /--namespace "Bad_NS": not a valid name/],
    [{ ...base, podLabel: ['-x'] }, /--pod-label "-x": not a label key/],
    [{ ...base, selector: '' }, /--selector "": not a label selector/],
    [{ ...base, selector: 'a=b;rm' }, /--selector/],
    [{ ...base, leaseDuration: '0' }, /--lease-duration "0"/],
    [{ ...base, leaseDuration: '2', renewIntervalMs: '2000' }, /--renew-interval-ms 2000 must be shorter/],
    [{ ...base, namespace: ['a'], excludeNamespace: ['a'] }, /namespace a is both included and excluded/],
    [{ ...base, daemonCa: '/ca' }, /--daemon-ca needs --daemon-tls/],
    [{ ...base, metricsAddr: 'nope' }, /--metrics-addr/],
    [{ ...base, logLevel: 'loud' }, /--log-level "loud": unknown value/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => parseWatcherOptions(raw, {}), (e: unknown) => e instanceof UsageError && re.test((e as Error).message), JSON.stringify(raw));
  }
});
