// `lightfoot-sdk new <name> --lang c|assemblyscript [--dir D]`: copies
// sdk/templates/<lang>/ with the name filled in; the result builds and passes
// its own fixture test as is.
import { Command, Option } from 'commander';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { sdkPath } from '../host/paths';
import { NAME_RE, UsageError } from '../host/project';

function copyTemplate(from: string, to: string, name: string): string[] {
  const written: string[] = [];
  const ident = name.replace(/-/g, '_');
  for (const entry of readdirSync(from)) {
    const src = path.join(from, entry);
    // `gitignore` is stored without its dot so it does not apply inside the SDK.
    const dst = path.join(to, entry === 'gitignore' ? '.gitignore' : entry);
    if (statSync(src).isDirectory()) {
      mkdirSync(dst, { recursive: true });
      written.push(...copyTemplate(src, dst, name));
    } else {
      writeFileSync(dst, readFileSync(src, 'utf8').replace(/__NAME__/g, name).replace(/__IDENT__/g, ident));
      written.push(dst);
    }
  }
  return written;
}

export function scaffold(name: string, lang: string, dirArg?: string): string {
  if (!NAME_RE.test(name)) throw new UsageError(`invalid decoder name "${name}": use [a-z][a-z0-9-]* (it becomes part of metric names)`);
  if (lang !== 'c' && lang !== 'assemblyscript') throw new UsageError(`unknown language "${lang}": use c or assemblyscript`);
  const dir = path.resolve(dirArg ?? name);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new UsageError(`${dir} exists and is not empty`);
  mkdirSync(dir, { recursive: true });
  copyTemplate(sdkPath('templates', lang), dir, name);
  return dir;
}

export function registerNew(p: Command): void {
  p.command('new <name>')
    .description('scaffold a decoder project from a template')
    .addOption(new Option('--lang <lang>', 'guest language').choices(['c', 'assemblyscript']).default('c'))
    .option('--dir <dir>', 'project directory (default: ./<name>)')
    .action((name: string, o: { lang: string; dir?: string }) => {
      const dir = scaffold(name, o.lang, o.dir);
      const rel = path.relative(process.cwd(), dir) || '.';
      process.stdout.write(`created ${rel} (${o.lang})\nnext: lightfoot-sdk build ${rel} && lightfoot-sdk test ${rel}\n`);
    });
}
