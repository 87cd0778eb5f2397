/**
 * The probe modules the daemon knows, in load order. Adding a module means a
 * folder probes/NAME/ (manifest.ts exporting a ProbeModule, its BPF object,
 * optional planner/ and wasm/ components) and one line here; nothing in
 * runtime/ changes.
 */
import type { ProbeModule } from '../runtime/modules/module';
import { tcpModule } from './tcp/manifest';
import { opensslModule } from './openssl/manifest';

export const PROBE_MODULES: readonly ProbeModule[] = [tcpModule, opensslModule];
