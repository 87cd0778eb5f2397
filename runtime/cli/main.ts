#!/usr/bin/env node
// Bin entry: plug the real daemon and doctor into the command line and turn
// the result into the process exit code.

import { runDaemon } from '../daemon/run.js';
import { runDoctor } from '../doctor/doctor.js';
import { runCli } from './program';

runCli(process.argv.slice(2), { run: runDaemon, doctor: runDoctor }).then(
  (code) => {
    // exitCode rather than exit(): lets stdout/stderr drain when piped.
    process.exitCode = code;
  },
  (err: unknown) => {
    // runCli never rejects; this is a last resort against bugs.
    process.stderr.write(`lightfoot: internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
