// Loads ESM-only packages (jco, binaryen, assemblyscript) from CommonJS: a real
// dynamic import, which TypeScript's commonjs output would turn into require().
import { pathToFileURL } from 'node:url';

const importUrl = new Function('u', 'return import(u)') as (u: string) => Promise<any>;

export function importEsm(specifierOrPath: string): Promise<any> {
  const file = specifierOrPath.startsWith('/') ? specifierOrPath : require.resolve(specifierOrPath);
  return importUrl(pathToFileURL(file).href);
}
