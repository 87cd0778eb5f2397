// The control API's bearer token, read from a file (a Kubernetes Secret
// volume) and compared in constant time. The file is re-read when it changes
// (Secret updates swap it atomically), checked at most once per second.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { ConfigError } from '../errors';

/** Tokens shorter than this are refused at start: guessable. */
export const MIN_TOKEN_BYTES = 16;
const RECHECK_MS = 1000;

const digest = (s: string | Buffer): Buffer => crypto.createHash('sha256').update(s).digest();

function readToken(file: string): Buffer {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--control-token-file ${file}: ${(err as Error).message}`, {
      cause: err,
      hint: 'pass a readable file holding the bearer token (the chart mounts it from a Secret)',
    });
  }
  const token = text.trim();
  if (Buffer.byteLength(token) < MIN_TOKEN_BYTES || /\s/.test(token)) {
    throw new ConfigError(`--control-token-file ${file}: the token must be at least ${MIN_TOKEN_BYTES} bytes with no whitespace inside`, {
      hint: 'generate one with `head -c 32 /dev/urandom | base64 > FILE`',
    });
  }
  return digest(token);
}

export class BearerToken {
  #digest: Buffer;
  #stamp: string;
  #checkedAt = 0;

  /** @throws ConfigError when the file is missing, empty or too short. */
  constructor(
    readonly file: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.#digest = readToken(file);
    this.#stamp = this.#stampOf();
  }

  #stampOf(): string {
    try {
      const st = fs.statSync(this.file);
      return `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch {
      return '';
    }
  }

  #refresh(): void {
    const now = this.clock();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    const stamp = this.#stampOf();
    if (stamp === this.#stamp || stamp === '') return;
    try {
      this.#digest = readToken(this.file);
      this.#stamp = stamp;
    } catch {
      // A half-written or bad file: keep the previous token.
    }
  }

  /**
   * True when the Authorization header is `Bearer <token>`. Both sides are
   * hashed first, so the comparison takes the same time whatever the length.
   */
  accepts(authorization: string | undefined): boolean {
    this.#refresh();
    const m = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
    const given = digest(m ? m[1]! : '');
    return crypto.timingSafeEqual(given, this.#digest) && m !== null;
  }
}
