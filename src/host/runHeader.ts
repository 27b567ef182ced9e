/**
 * The `header` line of a run's events.jsonl (its first line), for what the Runs tree and the status bar show of
 * runs that are not followed: the engine, device and versions (header `engine`, else its `backend`). Read like
 * every run file (src/runs/eventsReader.ts `openRunFile`: no symlink, a regular file), at most
 * {@link HEADER_MAX_BYTES}, and validated by the run format's own validator; anything else reads as no header.
 */
import fs from 'node:fs';
import path from 'node:path';
import { openRunFile } from '../runs/eventsReader';
import type { EngineSource } from '../shared/format';
import { isRunEvent, RUN_FILES, type HeaderEvent } from '../shared/protocol';

/** The most of events.jsonl read to find its first line. */
export const HEADER_MAX_BYTES = 256 * 1024;

/** The header of the run in `dir`, or null (no events.jsonl yet, no complete first line, not a valid header). */
export function readRunHeader(dir: string): HeaderEvent | null {
  let f: ReturnType<typeof openRunFile>;
  try {
    f = openRunFile(path.join(dir, RUN_FILES.events));
  } catch {
    return null;
  }
  if (!f) return null;
  try {
    const buf = Buffer.alloc(Math.min(f.stat.size, HEADER_MAX_BYTES));
    const n = fs.readSync(f.fd, buf, 0, buf.length, 0);
    const end = buf.subarray(0, n).indexOf(0x0a);
    if (end < 0) return null; // not written whole yet (or longer than any header)
    const e: unknown = JSON.parse(buf.subarray(0, end).toString('utf8'));
    return isRunEvent(e) && e.type === 'header' ? e : null;
  } catch {
    return null;
  } finally {
    fs.closeSync(f.fd);
  }
}

/** What a header says about the engine (for {@link import('../shared/format').engineLabel}). */
export const engineOf = (h: HeaderEvent | null | undefined): EngineSource | null =>
  h ? { engine: h.engine ?? null, backend: h.backend } : null;
