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
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { EVENT_SCHEMAS, EVENT_TYPES, type RunEvent, type RunEventType } from '../shared/protocol';

const KNOWN_TYPES: ReadonlySet<string> = new Set<string>(EVENT_TYPES);

/**
 * The run format's event schemas, compiled: `step` lines are nearly every line of a long log, and the
 * interpreted check (`isRunEvent` in protocol.ts, which the webview must use: its CSP forbids code generation)
 * costs several times the JSON parse. The host and the CLI may compile; same schemas, same verdicts.
 */
let compiled: Record<RunEventType, TypeCheck<(typeof EVENT_SCHEMAS)[RunEventType]>> | undefined;

/** A valid run event of a known type (the run format's schema): the reader's check. */
export function isRunEventLine(x: unknown): x is RunEvent {
  if (!x || typeof x !== 'object' || Array.isArray(x)) return false;
  const type = (x as { type?: unknown }).type;
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) return false;
  compiled ??= Object.fromEntries(
    EVENT_TYPES.map((t) => [t, TypeCompiler.Compile(EVENT_SCHEMAS[t])]),
  ) as NonNullable<typeof compiled>;
  return compiled[type as RunEventType].Check(x);
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
