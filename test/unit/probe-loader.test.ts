import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProbe } from '../../runtime/probes/probe-loader';
import type { ProbeSpec } from '../../runtime/probes/probe-spec';
import { nullLogger } from '../../runtime/log/logger';
import { LoadError } from '../../runtime/errors';

/** A stand-in for the native BpfObject: the verifier's verdicts are scripted per program. */
function fakeNative(refuseLoad: Set<string>, refuseAttach: Set<string> = new Set()) {
  const log = { opens: 0, closes: 0, attached: [] as string[], destroyed: 0 };
  const open = () => {
    log.opens++;
    const autoload = new Map<string, boolean>();
    const progs = ['a', 'b', 'c', 'not_in_spec'];
    return {
      programs: () => progs.map((name) => ({ name, section: '', type: '', autoload: true })),
      setConstant: () => {},
      setMaxEntries: () => {},
      setAutoload: (p: string, on: boolean) => autoload.set(p, on),
      load() {
        const bad = progs.find((p) => autoload.get(p) && refuseLoad.has(p));
        if (bad) throw Object.assign(new Error(`loading bpf object: invalid argument\nverifier log (tail):\n...`), { failedProgram: bad });
        assert.equal(autoload.get('not_in_spec'), false, 'programs outside the spec never load');
      },
      attach(p: string) {
        if (refuseAttach.has(p)) throw new Error(`attaching ${p}: no such tracepoint`);
        log.attached.push(p);
        return { destroy: () => log.destroyed++ };
      },
      close: () => log.closes++,
    };
  };
  return { open, log };
}

const spec: ProbeSpec = {
  name: 't',
  object: 'x.o',
  ringBuffer: 'rb',
  constants: {},
  programs: [
    { name: 'a', attach: { kind: 'auto' }, required: true },
    { name: 'b', attach: { kind: 'auto' }, required: false, degrades: 'no b' },
    { name: 'c', attach: { kind: 'auto' }, required: false },
  ],
};

test('an optional program the verifier refuses is disabled, reported, and the rest load', () => {
  const { open, log } = fakeNative(new Set(['b']));
  const probe = loadProbe(spec, { openObject: open as never, packageRoot: '/', logger: nullLogger });
  assert.deepEqual(probe.disabled.map((d) => [d.program, d.stage, d.degrades]), [['b', 'load', 'no b']]);
  assert.deepEqual(log.attached, ['a', 'c']);
  assert.equal(log.opens, 2);
  assert.equal(log.closes, 1, 'the failed object was closed');
  probe.close();
  assert.equal(log.destroyed, 2);
  assert.equal(log.closes, 2);
});

test('a required program the verifier refuses fails the probe with a LoadError', () => {
  const { open, log } = fakeNative(new Set(['a']));
  assert.throws(() => loadProbe(spec, { openObject: open as never, packageRoot: '/', logger: nullLogger }), (e: unknown) => {
    assert.ok(e instanceof LoadError);
    assert.match((e as Error).message, /^loading probe t: loading bpf object/);
    return true;
  });
  assert.equal(log.closes, log.opens, 'nothing leaks');
});

test('an optional program that cannot attach is reported; a required one fails and detaches the rest', () => {
  const optional = fakeNative(new Set(), new Set(['c']));
  const probe = loadProbe(spec, { openObject: optional.open as never, packageRoot: '/', logger: nullLogger });
  assert.deepEqual(probe.disabled.map((d) => [d.program, d.stage]), [['c', 'attach']]);
  probe.close();

  const required = fakeNative(new Set(), new Set(['a']));
  assert.throws(() => loadProbe(spec, { openObject: required.open as never, packageRoot: '/', logger: nullLogger }), LoadError);
  assert.equal(required.log.closes, 1);
});
