// Text for untrusted values in messages: never throws (no toString/valueOf
// calls on objects a decoder made), never long.

export function show(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(v);
    case 'bigint':
      return `${v.toString()}n`;
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return v === null ? 'null' : Array.isArray(v) ? 'a list' : 'an object';
  }
}

/** The message of something thrown, whatever it is. */
export function errorMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    try {
      const m = (err as { message?: unknown }).message;
      if (typeof m === 'string') return m;
    } catch {
      // a getter that throws
    }
  }
  return show(err);
}
