#!/usr/bin/env node
// lightfoot-sdk: scaffold, build, test and inspect lightfoot decoder components.
// One file per verb; this one only wires them and turns errors into one line.
import { Command, CommanderError } from 'commander';
import { registerBuild } from './build';
import { registerNew } from './new';
import { registerTest } from './test';
import { registerVerify } from './verify';

export function program(): Command {
  const p = new Command('lightfoot-sdk')
    .description('Build and test lightfoot protocol decoders (WebAssembly components)')
    .showHelpAfterError()
    .exitOverride();
  registerNew(p);
  registerBuild(p);
  registerTest(p);
  registerVerify(p);
  return p;
}

/** Runs the CLI; resolves to the exit status (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander printed it
    const err = e as Error & { code?: string };
    process.stderr.write(`lightfoot-sdk: ${err.message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
