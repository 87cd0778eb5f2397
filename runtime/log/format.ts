// Value rendering shared by the diagnostic logger and the event writer:
// both must turn bigint and Error into JSON without ever throwing.

/** JSON.stringify replacer: bigint as decimal string, Error as {name,message,code}. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (value.cause !== undefined) out.cause = value.cause;
    return out;
  }
  return value;
}

/** JSON text of `value`, or undefined when it cannot be serialised (cycles). */
export function safeStringify(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, jsonReplacer);
  } catch {
    return undefined;
  }
}

const BARE = /^[A-Za-z0-9_.:/@+\-[\]]+$/;

/** `key=value` text for human output; quotes values that contain spaces or quotes. */
export function prettyValue(value: unknown): string {
  if (typeof value === 'string') return BARE.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return JSON.stringify(code !== undefined ? `${value.message} (${String(code)})` : value.message);
  }
  return safeStringify(value) ?? '"[unserialisable]"';
}

export function prettyFields(fields: Record<string, unknown> | undefined): string {
  if (!fields) return '';
  let out = '';
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out += ` ${k}=${prettyValue(v)}`;
  }
  return out;
}

type Guardable = { on(event: 'error', fn: (err: Error) => void): unknown };
const guarded = new WeakSet<object>();

/**
 * Attach one error listener per stream so a closed pipe (EPIPE) cannot crash
 * the process through an unhandled 'error' event. Idempotent per stream.
 */
export function guardStream(stream: Guardable, onError: (err: Error) => void): void {
  if (guarded.has(stream)) return;
  guarded.add(stream);
  stream.on('error', onError);
}
