/**
 * What the kernel holds right now, from bpftool: used to prove nothing leaks.
 *
 * Other lightfoot runs may share the machine (parallel CI jobs, other
 * checkouts): their daemons hold programs and maps of the same names. Objects
 * some live process holds a file descriptor to are therefore not counted; what
 * is left is what nobody owns any more, which is exactly a leak (an attached
 * link or a pin outliving its daemon). bpftool's own `pids` column needs a
 * bpftool built with skeletons, so /proc/PID/fdinfo is read instead.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

interface Named {
  id: number;
  name?: string;
}

type Kind = 'prog' | 'map' | 'link';

function list(kind: Kind): Named[] {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' });
  return JSON.parse(out || '[]') as Named[];
}

/** Ids of the BPF objects live processes hold descriptors to (fdinfo `prog_id:`, `map_id:`, `link_id:`). */
function heldIds(): Record<Kind, Set<number>> {
  const held = { prog: new Set<number>(), map: new Set<number>(), link: new Set<number>() };
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue; // exited, or not ours to read
    }
    for (const fd of fds) {
      let text: string;
      try {
        text = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      for (const m of text.matchAll(/^(prog|map|link)_id:\s+(\d+)$/gm)) held[m[1] as Kind].add(Number(m[2]));
    }
  }
  return held;
}

function unheld(kind: Kind, held: Record<Kind, Set<number>>): Named[] {
  return list(kind).filter((o) => !held[kind].has(o.id));
}

/** Programs and maps whose names start with `prefix` (kernel names are cut at 15 bytes) that no live process holds. */
export function bpfObjectsNamed(prefix: string): { progs: string[]; maps: string[] } {
  const held = heldIds();
  return {
    progs: unheld('prog', held).filter((p) => p.name?.startsWith(prefix)).map((p) => p.name!),
    maps: unheld('map', held).filter((m) => m.name?.startsWith(prefix)).map((m) => m.name!),
  };
}

/** Links no live process holds (pinned or kernel-held). */
export function linkCount(): number {
  return unheld('link', heldIds()).length;
}
