/**
 * What differs between run configs: flatten each config to dotted paths (arrays are leaves) and keep the
 * paths whose values are not all equal. No DOM, no vscode.
 */

/** A path where at least two configs disagree; `values[i]` belongs to the i-th config (undefined: absent). */
export interface DiffRow {
  path: string;
  values: unknown[];
}

/** Flatten a JSON value to `path → leaf` (objects recurse; arrays, primitives and null are leaves). */
export function flatten(
  value: unknown,
  prefix = '',
  out: Map<string, unknown> = new Map(),
): Map<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (!entries.length && prefix) out.set(prefix, {});
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

/** Deep equality of JSON values. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return (
    ka.length === kb.length &&
    ka.every(
      (k) =>
        Object.prototype.hasOwnProperty.call(b, k) &&
        jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
    )
  );
}

/**
 * Rows for every path whose value differs across `configs` (a path missing from some config counts as
 * different), in first-seen path order. With fewer than two configs nothing differs.
 */
export function configDiff(configs: readonly unknown[]): DiffRow[] {
  if (configs.length < 2) return [];
  const flats = configs.map((c) => flatten(c));
  const paths: string[] = [];
  const seen = new Set<string>();
  for (const f of flats) {
    for (const p of f.keys()) {
      if (seen.has(p)) continue;
      seen.add(p);
      paths.push(p);
    }
  }
  const rows: DiffRow[] = [];
  for (const p of paths) {
    const values = flats.map((f) => (f.has(p) ? f.get(p) : undefined));
    const differ = values.some(
      (v, i) => i > 0 && (flats[i].has(p) !== flats[0].has(p) || !jsonEqual(v, values[0])),
    );
    if (differ) rows.push({ path: p, values });
  }
  return rows;
}

/** A value for a diff cell. */
export const showValue = (v: unknown): string =>
  v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v);

/** Deep-merge `over` into a copy of `base` (objects merge, everything else replaces). */
export function deepMerge<T>(base: T, over: unknown): T {
  if (over === null || typeof over !== 'object' || Array.isArray(over))
    return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> =
    base !== null && typeof base === 'object' && !Array.isArray(base)
      ? { ...(base as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined || k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    out[k] = deepMerge(out[k], v);
  }
  return out as T;
}
