/**
 * Incremental, bounded reading of `events.jsonl` from a byte offset (host and CLI side; no `vscode`).
 *
 * A log can be far larger than a JavaScript string may be (512 MiB) and than the extension host should hold:
 * the file is read in chunks of at most {@link CHUNK_BYTES}, decoded with a StringDecoder (a multi-byte
 * UTF-8 sequence split across two chunks is joined), and only complete lines are parsed. A line split
 * across chunks is carried to the next read; a line longer than {@link MAX_LINE_CHARS} is skipped (counted as
 * corrupt) without being held in memory. The file is opened without following a symlink and must be a
 * regular file (a FIFO or device would block or never end).
 */
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { RunEvent } from '../shared/protocol';
import { parseEventLines } from './events';

/** Bytes read per step of a big file. */
export const CHUNK_BYTES = 1024 * 1024;
/** Longest line kept (characters); longer ones are skipped as corrupt. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

const O_NOFOLLOW = fs.constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = fs.constants.O_NONBLOCK ?? 0;

/** Open a file of a run folder for reading: no symlinks, regular files only. Null when it does not exist. */
export function openRunFile(file: string): { fd: number; stat: fs.Stats } | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    if (code === 'ELOOP' || code === 'EMLINK')
      throw Object.assign(new Error(`${file}: is a symbolic link; not followed`), {
        code: 'ELOOP',
      });
    throw e;
  }
  const stat = fs.fstatSync(fd);
  if (!stat.isFile()) {
    fs.closeSync(fd);
    throw Object.assign(new Error(`${file}: not a regular file`), { code: 'EINVAL' });
  }
  return { fd, stat };
}

export interface ReadResult {
  events: RunEvent[];
  /** 1-based line numbers of corrupt lines in this read (at most a thousand listed). */
  corruptLines: number[];
  /** The file was truncated or replaced: everything is read again from the start. */
  reset: boolean;
  /** More complete data is waiting after this read (call again). */
  more?: boolean;
  /** Bytes read so far and the file's size (progress of a long first read). */
  done?: number;
  size?: number;
}

/** Reads the new complete lines of an events file on each {@link read}, at most `maxBytes` per call. */
export class EventsFileReader {
  /** Bytes consumed so far, up to the end of the last complete line. */
  offset = 0;
  /** Bytes read (offset + the bytes of the incomplete line carried). */
  private pos = 0;
  private nextLine = 1;
  private ino: number | null = null;
  private decoder = new StringDecoder('utf8');
  private pending = '';
  /** The current line is longer than MAX_LINE_CHARS: drop text up to its newline. */
  private skipping = false;
  private buf: Buffer | null = null;
  /** Lines that were valid objects of a newer event type (skipped). */
  unknown = 0;

  constructor(
    readonly file: string,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  private restart(): void {
    this.offset = 0;
    this.pos = 0;
    this.nextLine = 1;
    this.decoder = new StringDecoder('utf8');
    this.pending = '';
    this.skipping = false;
  }

  /**
   * Read what was appended since the last call, at most `maxBytes` (default one chunk); `more` says whether
   * the file holds more already. `reset` is true when the file shrank or was replaced (everything is read
   * again from the start); a missing file reads as empty.
   */
  read(maxBytes = this.chunkBytes): ReadResult {
    const opened = openRunFile(this.file);
    if (!opened) return { events: [], corruptLines: [], reset: false };
    const { fd, stat: st } = opened;
    try {
      let reset = false;
      if ((this.ino !== null && st.ino !== this.ino) || st.size < this.pos) {
        reset = this.pos > 0 || this.ino !== null;
        this.restart();
      }
      this.ino = st.ino;
      const want = Math.min(st.size - this.pos, Math.max(1, maxBytes));
      if (want <= 0)
        return { events: [], corruptLines: [], reset, more: false, done: this.pos, size: st.size };
      const size = Math.min(want, this.chunkBytes);
      if (!this.buf || this.buf.length < size)
        this.buf = Buffer.allocUnsafe(Math.max(size, Math.min(this.chunkBytes, 64 * 1024)));
      const events: RunEvent[] = [];
      const corruptLines: number[] = [];
      let left = want;
      while (left > 0) {
        const n = fs.readSync(fd, this.buf, 0, Math.min(left, this.buf.length), this.pos);
        if (n === 0) break;
        const chunk = this.buf.subarray(0, n);
        const lastNl = chunk.lastIndexOf(0x0a);
        this.pos += n;
        left -= n;
        if (lastNl >= 0) this.offset = this.pos - n + lastNl + 1;
        this.consume(this.decoder.write(chunk), events, corruptLines);
      }
      return {
        events,
        corruptLines,
        reset,
        more: this.pos < st.size,
        done: this.pos,
        size: st.size,
      };
    } finally {
      fs.closeSync(fd);
    }
  }

  private consume(text: string, events: RunEvent[], corruptLines: number[]): void {
    let start = 0;
    if (this.skipping) {
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      this.skipping = false;
      corruptLines.push(this.nextLine++);
      start = nl + 1;
    }
    const lastNl = text.lastIndexOf('\n');
    if (lastNl < start) {
      this.pending += start ? text.slice(start) : text;
      this.checkPending(corruptLines);
      return;
    }
    const complete = this.pending + text.slice(start, lastNl + 1);
    this.pending = text.slice(lastNl + 1);
    const parsed = parseEventLines(complete, this.nextLine);
    this.nextLine += parsed.lines;
    this.unknown += parsed.unknown;
    for (const e of parsed.events) events.push(e);
    for (const l of parsed.corruptLines) corruptLines.push(l);
    this.checkPending(corruptLines);
  }

  private checkPending(corruptLines: number[]): void {
    void corruptLines;
    if (this.pending.length > MAX_LINE_CHARS) {
      this.pending = '';
      this.skipping = true;
    }
  }

  /** The incomplete last line (text after the last newline read so far). */
  get tail(): string {
    return this.pending;
  }
}

/**
 * Read a whole events file once, chunk by chunk (any size, bounded memory besides what `onEvents` keeps);
 * a complete last line without its newline is accepted, a torn one reported.
 */
export function readEventsFile(
  file: string,
  onEvents: (events: RunEvent[]) => void,
): { corruptLines: number[]; tornTail: boolean; found: boolean; unknown: number } {
  const r = new EventsFileReader(file);
  const corrupt: number[] = [];
  let found = false;
  for (;;) {
    const got = r.read();
    if (got.size !== undefined) found = true;
    if (got.events.length) onEvents(got.events);
    for (const l of got.corruptLines) if (corrupt.length < 1000) corrupt.push(l);
    if (!got.more) break;
  }
  let tornTail = false;
  if (r.tail.trim() !== '') {
    const last = parseEventLines(r.tail, 0, true);
    if (last.events.length) onEvents(last.events);
    tornTail = last.tornTail;
  }
  return { corruptLines: corrupt, tornTail, found, unknown: r.unknown };
}
