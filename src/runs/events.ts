/**
 * Parsing `events.jsonl` text: one JSON object per line. A line without its final newline is either being
 * written right now or was torn by a killed process; callers decide (the tailer keeps it for the next read,
 * a one-shot reader accepts it only if it parses). A bad line in the middle is skipped and counted, never
 * fatal: one corrupt line must not hide a whole run.
 */
import type { RunEvent, RunEventType } from '../shared/protocol';

const EVENT_TYPES: ReadonlySet<string> = new Set<RunEventType>(['header', 'step', 'fisher', 'eval', 'detector', 'status', 'log']);

/** Minimal shape check: an object with a known `type` and a numeric `t`; step-like events need a numeric `step`. */
export function isRunEvent(x: unknown): x is RunEvent {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const e = x as { type?: unknown; t?: unknown; step?: unknown };
  if (typeof e.type !== 'string' || !EVENT_TYPES.has(e.type) || typeof e.t !== 'number') return false;
  if (e.type !== 'header' && e.type !== 'log' && typeof e.step !== 'number') return false;
  return true;
}

export interface ParsedLines {
  events: RunEvent[];
  /** 1-based line numbers (relative to `firstLine`) of lines that were not valid events. */
  corruptLines: number[];
  /** Lines that were valid JSON objects of an unknown `type` (a newer writer): skipped, not corrupt. */
  unknown: number;
  /** Text after the last newline (an incomplete line), not parsed. */
  rest: string;
}

/**
 * Parse complete lines of `text`. The text after the last newline is returned in `rest`; with
 * `acceptUnterminated` it is parsed too when it is a valid event (a reader of a finished file), and
 * otherwise reported as the torn tail.
 */
export function parseEventLines(text: string, firstLine = 1, acceptUnterminated = false): ParsedLines & { tornTail: boolean } {
  const events: RunEvent[] = [];
  const corruptLines: number[] = [];
  let unknown = 0;
  let start = 0;
  let line = firstLine;
  const take = (s: string): 'ok' | 'bad' | 'unknown' => {
    if (s.trim() === '') return 'ok';
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      return 'bad';
    }
    if (isRunEvent(v)) {
      events.push(v);
      return 'ok';
    }
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as { type?: unknown }).type === 'string' && !EVENT_TYPES.has((v as { type: string }).type)) return 'unknown';
    return 'bad';
  };
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    const r = take(text.slice(start, nl));
    if (r === 'bad') corruptLines.push(line);
    else if (r === 'unknown') unknown++;
    start = nl + 1;
    line++;
  }
  let rest = text.slice(start);
  let tornTail = false;
  if (acceptUnterminated && rest.trim() !== '') {
    const r = take(rest);
    if (r === 'unknown') unknown++;
    if (r === 'bad') tornTail = true;
    rest = '';
  }
  return { events, corruptLines, unknown, rest, tornTail };
}
