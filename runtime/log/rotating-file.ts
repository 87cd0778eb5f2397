// File export of event and diagnostic lines (--export-dir, e.g. a persistent
// volume), bounded in size and count like logrotate: FILE, FILE.1 … FILE.(N-1).
//
// Why written by hand and synchronously: lines are queued and written with
// writeSync once per tick (or at 64 KiB), and a rotation happens between two
// whole lines of that queue. Nothing is in flight while files are renamed, so
// no line is lost or split across a rotation and lines from different
// producers never interleave. Stream-based rotators buffer asynchronously
// around the rename, which is exactly the window this avoids.

import * as fs from 'node:fs';

export interface LineSink {
  /** One line without its newline. Never throws. */
  writeLine(line: string): void;
}

export interface RotatingFileOptions {
  path: string;
  /** A file is rotated before a line would take it past this size. */
  maxBytes: number;
  /** Files kept, the active one included (≥ 2). */
  maxFiles: number;
  /** First write or rotation error (the sink then drops and counts). */
  onError?: (err: Error) => void;
  /** Defaults to setImmediate. */
  schedule?: (fn: () => void) => void;
}

export interface RotatingFileStats {
  lines: number;
  bytes: number;
  rotations: number;
  /** Lines lost to write errors (disk full, volume gone). */
  dropped: number;
}

const FLUSH_AT_BYTES = 64 * 1024;

export class RotatingFile implements LineSink {
  readonly stats: RotatingFileStats = { lines: 0, bytes: 0, rotations: 0, dropped: 0 };
  readonly #o: RotatingFileOptions;
  readonly #schedule: (fn: () => void) => void;
  #fd: number;
  #size: number;
  #queue: string[] = [];
  #queuedBytes = 0;
  #scheduled = false;
  #failed = false;
  #closed = false;

  /** Opens (appends to) the file; throws when it cannot be opened. */
  constructor(opts: RotatingFileOptions) {
    if (opts.maxFiles < 2) throw new RangeError('maxFiles must be at least 2');
    this.#o = opts;
    this.#schedule = opts.schedule ?? ((fn) => void setImmediate(fn));
    this.#fd = fs.openSync(opts.path, 'a', 0o640);
    this.#size = fs.fstatSync(this.#fd).size;
  }

  writeLine(line: string): void {
    if (this.#closed) {
      this.stats.dropped++;
      return;
    }
    const text = line + '\n';
    this.#queue.push(text);
    this.#queuedBytes += text.length;
    if (this.#queuedBytes >= FLUSH_AT_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
  }

  /** Write everything queued now. */
  flush(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    this.#queue = [];
    this.#queuedBytes = 0;
    let chunk = '';
    let chunkBytes = 0;
    let chunkLines = 0;
    for (const text of queue) {
      const n = Buffer.byteLength(text);
      if (this.#size + chunkBytes + n > this.#o.maxBytes && this.#size + chunkBytes > 0) {
        this.#write(chunk, chunkLines);
        chunk = '';
        chunkBytes = 0;
        chunkLines = 0;
        this.#rotate();
      }
      chunk += text;
      chunkBytes += n;
      chunkLines++;
    }
    this.#write(chunk, chunkLines);
  }

  #write(chunk: string, lines: number): void {
    if (lines === 0) return;
    const buf = Buffer.from(chunk);
    try {
      let off = 0;
      while (off < buf.length) off += fs.writeSync(this.#fd, buf, off);
      this.#size += buf.length;
      this.stats.lines += lines;
      this.stats.bytes += buf.length;
    } catch (err) {
      this.stats.dropped += lines;
      this.#fail(err as Error);
    }
  }

  #rotate(): void {
    const p = this.#o.path;
    try {
      fs.closeSync(this.#fd);
      for (let i = this.#o.maxFiles - 1; i >= 1; i--) {
        const from = i === 1 ? p : `${p}.${i - 1}`;
        try {
          fs.renameSync(from, `${p}.${i}`); // the oldest is overwritten: the count bound
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      this.stats.rotations++;
    } catch (err) {
      this.#fail(err as Error);
    }
    try {
      this.#fd = fs.openSync(p, 'a', 0o640);
      this.#size = fs.fstatSync(this.#fd).size;
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#o.onError?.(err);
  }

  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    try {
      fs.closeSync(this.#fd);
    } catch {
      // already closed by a failed rotation
    }
  }
}
