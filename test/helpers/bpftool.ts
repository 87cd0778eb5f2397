/** What the kernel holds right now, from bpftool: used to prove nothing leaks. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

interface Named {
  id: number;
  name?: string;
}

function list(kind: 'prog' | 'map' | 'link'): Named[] {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' });
  return JSON.parse(out || '[]') as Named[];
}

/**
 * Ids of programs and maps that other live processes hold through a file
 * descriptor (/proc/PID/fdinfo lists prog_id/map_id/link_id). Those belong to another
 * lightfoot on the same machine (a second checkout's tests), not to a leak of
 * ours: an object nobody holds, or that this test process holds, is ours.
 */
function heldByOthers(): { progs: Set<number>; maps: Set<number>; links: Set<number> } {
  const progs = new Set<number>();
  const maps = new Set<number>();
  const links = new Set<number>();
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fdinfo`);
    } catch {
      continue; // exited, or a kernel thread
    }
    for (const fd of fds) {
      let info: string;
      try {
        info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      } catch {
        continue;
      }
      for (const m of info.matchAll(/^(prog|map|link)_id:\s*(\d+)/gm)) ({ prog: progs, map: maps, link: links })[m[1] as 'prog'].add(Number(m[2]));
    }
  }
  return { progs, maps, links };
}

/**
 * Programs and maps whose names start with `prefix` (kernel names are cut at 15
 * bytes) and that no other live process holds.
 */
export function bpfObjectsNamed(prefix: string): { progs: string[]; maps: string[] } {
  const others = heldByOthers();
  return {
    progs: list('prog').filter((p) => p.name?.startsWith(prefix) && !others.progs.has(p.id)).map((p) => p.name!),
    maps: list('map').filter((m) => m.name?.startsWith(prefix) && !others.maps.has(m.id)).map((m) => m.name!),
  };
}

/** Links that no other live process holds. */
export function linkCount(): number {
  const others = heldByOthers();
  return list('link').filter((l) => !others.links.has(l.id)).length;
}
