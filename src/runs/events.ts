/**
 * Parsing `events.jsonl` text: one JSON object per line. A line without its final newline is either being
 * written right now or was torn by a killed process; callers decide (the tailer keeps it for the next read,
 * a one-shot reader accepts it only if it parses). A bad line in the middle is skipped and counted, never
 * fatal: one corrupt line must not hide a whole run.
 *
 * Everything in a run folder is untrusted: a line becomes an event only when it matches the run format's
 * schema (`src/shared/protocol.ts`); anything else is a corrupt line (or, for a valid object of an unknown
 * `type`, skipped as written by a newer trainer).
 */
import { EVENT_TYPES, isRunEvent as isValidRunEvent, type RunEvent } from '../shared/protocol';

const KNOWN_TYPES: ReadonlySet<string> = new Set<string>(EVENT_TYPES);

const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const metric = (v: unknown): boolean => v === null || finite(v);

/**
 * Exact check of the `step` event schema by hand: step events are nearly every line of a long log and the
 * interpreted schema check costs several times the JSON parse. Accepting here implies the schema accepts;
 * anything it rejects goes through the full check.
 */
function isStepFast(e: Record<string, unknown>): boolean {
  return (
    e.type === 'step' &&
    finite(e.t) &&
    Number.isInteger(e.step) &&
    (e.step as number) >= 0 &&
    finite(e.epoch) &&
    metric(e.loss) &&
    metric(e.lr) &&
    metric(e.penalty) &&
    metric(e.gradNorm) &&
    metric(e.examplesPerSec)
  );
}

/**
 * A valid run event of a known type (the run format's schema), with a fast exact path for `step` lines: the
 * reader's check. The schema's own check is `isRunEvent` in `src/shared/protocol.ts`.
 */
export function isRunEventLine(x: unknown): x is RunEvent {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  if ((x as { type?: unknown }).type === 'step' && isStepFast(x as Record<string, unknown>))
    return true;
  return isValidRunEvent(x);
}

export interface ParsedLines {
  events: RunEvent[];
  /** 1-based line numbers (relative to `firstLine`) of lines that were not valid events. */
  corruptLines: number[];
  /** Lines that were valid JSON objects of an unknown `type` (a newer writer): skipped, not corrupt. */
  unknown: number;
  /** Text after the last newline (an incomplete line), not parsed. */
  rest: string;
  /** Complete lines consumed (newlines seen). */
  lines: number;
}

/** Corrupt line numbers kept per parse (the count goes on; the list is only for messages). */
const MAX_CORRUPT_LISTED = 1000;

/**
 * Parse complete lines of `text`. The text after the last newline is returned in `rest`; with
 * `acceptUnterminated` it is parsed too when it is a valid event (a reader of a finished file), and
 * otherwise reported as the torn tail.
 */
export function parseEventLines(
  text: string,
  firstLine = 1,
  acceptUnterminated = false,
): ParsedLines & { tornTail: boolean } {
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
    if (isRunEventLine(v)) {
      events.push(v);
      return 'ok';
    }
    if (
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof (v as { type?: unknown }).type === 'string' &&
      !KNOWN_TYPES.has((v as { type: string }).type)
    )
      return 'unknown';
    return 'bad';
  };
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    const r = take(text.slice(start, nl));
    if (r === 'bad' && corruptLines.length < MAX_CORRUPT_LISTED) corruptLines.push(line);
    else if (r === 'unknown') unknown++;
    start = nl + 1;
    line++;
  }
  const lines = line - firstLine;
  let rest = text.slice(start);
  let tornTail = false;
  if (acceptUnterminated && rest.trim() !== '') {
    const r = take(rest);
    if (r === 'unknown') unknown++;
    if (r === 'bad') tornTail = true;
    rest = '';
  }
  return { events, corruptLines, unknown, rest, lines, tornTail };
}
