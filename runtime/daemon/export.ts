// --export-dir: event lines (events.log) and diagnostic lines (lightfoot.log)
// also go to size- and count-bounded files there, e.g. on a persistent volume.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ExportOptions } from '../cli/options';
import { ConfigError } from '../errors';
import { RotatingFile } from '../log/rotating-file';

export const EVENTS_FILE = 'events.log';
export const DIAGNOSTICS_FILE = 'lightfoot.log';

export interface Export {
  events: RotatingFile;
  diagnostics: RotatingFile;
  close(): void;
}

export function openExport(opts: ExportOptions): Export {
  const open = (name: string): RotatingFile => {
    const file = path.join(opts.dir, name);
    try {
      fs.mkdirSync(opts.dir, { recursive: true, mode: 0o750 });
      return new RotatingFile({
        path: file,
        maxBytes: opts.maxBytes,
        maxFiles: opts.maxFiles,
        // The logger may be what failed: say it once on stderr.
        onError: (err) => process.stderr.write(`lightfoot: export to ${file} failed: ${err.message}; its lines are dropped and counted\n`),
      });
    } catch (err) {
      throw new ConfigError(`--export-dir ${opts.dir}: cannot open ${file}: ${(err as Error).message}`, {
        cause: err,
        hint: 'pass a writable directory (mount a persistent volume there in Kubernetes)',
      });
    }
  };
  const events = open(EVENTS_FILE);
  const diagnostics = open(DIAGNOSTICS_FILE);
  return {
    events,
    diagnostics,
    close() {
      events.close();
      diagnostics.close();
    },
  };
}
