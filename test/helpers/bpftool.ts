/** What the kernel holds right now, from bpftool: used to prove nothing leaks. */
import { execFileSync } from 'node:child_process';

interface Named {
  id: number;
  name?: string;
}

function list(kind: 'prog' | 'map' | 'link'): Named[] {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8' });
  return JSON.parse(out || '[]') as Named[];
}

/** Programs and maps whose names start with `prefix` (kernel names are cut at 15 bytes). */
export function bpfObjectsNamed(prefix: string): { progs: string[]; maps: string[] } {
  return {
    progs: list('prog').filter((p) => p.name?.startsWith(prefix)).map((p) => p.name!),
    maps: list('map').filter((m) => m.name?.startsWith(prefix)).map((m) => m.name!),
  };
}

export function linkCount(): number {
  return list('link').length;
}
