// Typed errors with stable codes. Every error the user can act on is a
// LightfootError; `instanceof` works across two copies of this module because
// it checks a Symbol.for brand instead of the prototype chain (undici style).

export type ErrorCode =
  | 'LF_ERR_USAGE'
  | 'LF_ERR_CONFIG'
  | 'LF_ERR_TARGET'
  | 'LF_ERR_PERMISSION'
  | 'LF_ERR_NOT_SUPPORTED'
  | 'LF_ERR_LOAD';

export interface LightfootErrorOptions {
  /** The lower-level error this one wraps. */
  cause?: unknown;
  /** How to fix the problem, shown in parentheses by formatErrorLine. */
  hint?: string;
}

const kBrand = Symbol.for('lightfoot.error');
const brandFor = (code: ErrorCode): symbol => Symbol.for(`lightfoot.error.${code}`);

export class LightfootError extends Error {
  /** Stable code for the error class; null on the base class itself. */
  static readonly code: ErrorCode | null = null;

  readonly code: ErrorCode;
  readonly hint?: string;

  constructor(code: ErrorCode, message: string, options: LightfootErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LightfootError';
    this.code = code;
    if (options.hint !== undefined) this.hint = options.hint;
    Object.defineProperty(this, kBrand, { value: true });
    Object.defineProperty(this, brandFor(code), { value: true });
  }

  static override [Symbol.hasInstance](instance: unknown): boolean {
    if (instance === null || (typeof instance !== 'object' && typeof instance !== 'function')) {
      return false;
    }
    const code = (this as unknown as { code: ErrorCode | null }).code;
    const brand = code === null ? kBrand : brandFor(code);
    return (instance as Record<symbol, unknown>)[brand] === true;
  }
}

/** Bad command line: unknown flag, bad value, conflicting selectors. Exit code 2. */
export class UsageError extends LightfootError {
  static override readonly code = 'LF_ERR_USAGE' as const;
  constructor(message: string, options?: LightfootErrorOptions) {
    super('LF_ERR_USAGE', message, options);
    this.name = 'UsageError';
  }
}

/** Valid syntax but unusable setting on this host (port in use, bad cgroup path). */
export class ConfigError extends LightfootError {
  static override readonly code = 'LF_ERR_CONFIG' as const;
  constructor(message: string, options?: LightfootErrorOptions) {
    super('LF_ERR_CONFIG', message, options);
    this.name = 'ConfigError';
  }
}

/** A selected process or cgroup does not exist or cannot be inspected. */
export class TargetError extends LightfootError {
  static override readonly code = 'LF_ERR_TARGET' as const;
  constructor(message: string, options?: LightfootErrorOptions) {
    super('LF_ERR_TARGET', message, options);
    this.name = 'TargetError';
  }
}

/** Missing privilege (root, CAP_BPF, CAP_PERFMON...). */
export class PermissionError extends LightfootError {
  static override readonly code = 'LF_ERR_PERMISSION' as const;
  constructor(message: string, options?: LightfootErrorOptions) {
    super('LF_ERR_PERMISSION', message, options);
    this.name = 'PermissionError';
  }
}

export interface NotSupportedErrorOptions extends LightfootErrorOptions {
  /** What is missing, e.g. "cgroup v2" or "BPF ring buffer". */
  feature: string;
  /** First kernel version that has the feature, e.g. "5.8". */
  minimumKernel?: string;
}

/** The host (kernel, config) lacks a feature lightfoot needs. */
export class NotSupportedError extends LightfootError {
  static override readonly code = 'LF_ERR_NOT_SUPPORTED' as const;
  readonly feature: string;
  readonly minimumKernel?: string;
  constructor(message: string, options: NotSupportedErrorOptions) {
    super('LF_ERR_NOT_SUPPORTED', message, options);
    this.name = 'NotSupportedError';
    this.feature = options.feature;
    if (options.minimumKernel !== undefined) this.minimumKernel = options.minimumKernel;
  }
}

/** Loading or attaching BPF programs failed (verifier, missing BTF...). */
export class LoadError extends LightfootError {
  static override readonly code = 'LF_ERR_LOAD' as const;
  constructor(message: string, options?: LightfootErrorOptions) {
    super('LF_ERR_LOAD', message, options);
    this.name = 'LoadError';
  }
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ').trim();

/**
 * One line for the terminal: `lightfoot: <message> (<hint>)`. Never includes a
 * stack trace; unknown errors show their message (and errno code if any).
 *
 * @example
 * process.stderr.write(formatErrorLine(new UsageError('bad', { hint: 'fix it' })) + '\n');
 * // lightfoot: bad (fix it)
 */
export function formatErrorLine(err: unknown): string {
  if (err instanceof LightfootError) {
    const hint = err.hint ? ` (${oneLine(err.hint)})` : '';
    return `lightfoot: ${oneLine(err.message)}${hint}`;
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const suffix = typeof code === 'string' && !err.message.includes(code) ? ` (${code})` : '';
    return `lightfoot: ${oneLine(err.message)}${suffix}`;
  }
  return `lightfoot: ${oneLine(String(err))}`;
}

/** Process exit code for an error: 2 for usage errors, 1 otherwise. */
export function exitCodeFor(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}
