/**
 * How runs are told apart in views: a colour that is a pure function of the run id (the same run has the same
 * colour in every monitor and compare view, whatever else is shown), and a short label for legends and table
 * headers instead of the 24-character run id. No DOM; the webview maps colour indices onto its theme palette.
 */

/**
 * FNV-1a (32-bit) of a string with MurmurHash3's finaliser: stable, and well spread also in its low bits
 * (ids that differ in one digit land on unrelated palette slots).
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A run's own palette slot: a pure function of its id. */
export const runColorSlot = (runId: string, paletteSize: number): number =>
  paletteSize > 0 ? hashString(runId) % paletteSize : 0;

/**
 * Palette slots for the runs of one view: every run keeps its own slot ({@link runColorSlot}) unless a run with
 * a smaller id has the same one; those few then take the free slots (so runs in one view differ while there are
 * enough colours). A run's colour thus depends only on its id, except when its own slot collides.
 */
export function runColorSlots(runIds: readonly string[], paletteSize: number): Map<string, number> {
  const out = new Map<string, number>();
  const taken = new Set<number>();
  const later: string[] = [];
  for (const id of [...new Set(runIds)].sort()) {
    const own = runColorSlot(id, paletteSize);
    if (taken.has(own)) later.push(id);
    else {
      taken.add(own);
      out.set(id, own);
    }
  }
  for (const id of later) {
    let slot = runColorSlot(id, paletteSize);
    if (taken.size < paletteSize)
      for (let k = 0; k < paletteSize && taken.has(slot); k++) slot = (slot + 1) % paletteSize;
    taken.add(slot);
    out.set(id, slot);
  }
  return out;
}

/** `YYYYMMDD-HHMMSS-slug[-n]`: the run id pattern of this product (others are shown whole). */
const RUN_ID_RE = /^(\d{8})-(\d{2})(\d{2})(\d{2})-(.+)$/;

/**
 * Short labels for a set of runs: the user's or config's name when it differs from the id, else the id's
 * slug (`lr-large` of `20261129-010000-lr-large`); where two labels would be equal, the start time (and the
 * date, when it differs too) is added; ids of other shapes are kept whole. At most `max` characters.
 */
export function shortRunLabels(
  runs: readonly { runId: string; name?: string | null }[],
  max = 32,
): string[] {
  const cut = (s: string) => (s.length > max ? `${s.slice(0, max - 1)}…` : s);
  const parts = runs.map((r) => RUN_ID_RE.exec(r.runId));
  const base = runs.map((r, i) =>
    r.name && r.name !== r.runId ? r.name : (parts[i]?.[5] ?? r.runId),
  );
  const count = (xs: string[]) => {
    const m = new Map<string, number>();
    for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
    return m;
  };
  const n1 = count(base);
  const withTime = base.map((b, i) => {
    const p = parts[i];
    return n1.get(b)! > 1 && p ? `${b} ${p[2]}:${p[3]}:${p[4]}` : b;
  });
  const n2 = count(withTime);
  return withTime.map((b, i) => {
    const p = parts[i];
    if (n2.get(b)! > 1 && p) return cut(`${b} ${p[1].slice(4, 6)}/${p[1].slice(6)}`);
    return cut(n2.get(b)! > 1 ? runs[i].runId : b);
  });
}
