/** Run ids: `<YYYYMMDD>-<HHMMSS>-<slug>` in local time, filesystem-safe, unique within a runs root. */
import fs from 'node:fs';
import path from 'node:path';

/** A run id is one path segment: starts with a letter or digit, then letters, digits, `. _ + -`. */
export const RUN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** Why `id` is not a valid run id (the value cut short to 60 characters), or null when it is one. */
export function runIdProblem(id: string): string | null {
  if (RUN_ID_PATTERN.test(id)) return null;
  const shown = id.length > 60 ? `${JSON.stringify(id.slice(0, 59))}…` : JSON.stringify(id);
  const why =
    id.length > 128
      ? `${id.length} characters, at most 128 are allowed`
      : 'expected one path segment: a letter or digit, then letters, digits and . _ + -, at most 128 characters';
  return `got ${shown}; ${why}`;
}

/** Lower-case, filesystem-safe slug of a run name or config file name (`small-lr.fisher.json` → `small-lr`). */
export function slugify(nameOrFile: string): string {
  let base = path
    .basename(nameOrFile.trim())
    .replace(/\.fisher\.json$/i, '')
    .replace(/\.json$/i, '');
  base = base
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, 48)
    .replace(/[-._]+$/g, '');
  return base || 'run';
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** `YYYYMMDD-HHMMSS` in local time. */
export function timestamp(date: Date): string {
  return `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}-${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
}

/**
 * `20261127-214826-small-lr` from a run name or config file name; with `runsRoot`, a suffix `-2`, `-3` …
 * is added while that folder already exists. (Creation itself is exclusive: see `RunWriter.createUnique`.)
 */
export function makeRunId(nameOrFile: string, date: Date = new Date(), runsRoot?: string): string {
  const base = `${timestamp(date)}-${slugify(nameOrFile)}`;
  if (!runsRoot) return base;
  let id = base;
  for (let k = 2; fs.existsSync(path.join(runsRoot, id)); k++) id = `${base}-${k}`;
  return id;
}
