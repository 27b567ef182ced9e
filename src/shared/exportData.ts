/**
 * Exports of a run's series: one CSV with every series joined on the step, and TensorBoard scalars.
 * No vscode, no DOM.
 */
import { METRICS, tableOf } from './metrics';
import type { RunSeries, Val, XColumns } from './series';
import type { ScalarPoint } from './tfevents';

/** CSV columns after `step,epoch,time_s` (and TensorBoard tags): the catalogue's metrics, in its order. */
const COLUMNS = METRICS.map((m) => ({ csv: m.csv, tag: m.tag, table: tableOf(m), id: m.id }));

const cell = (v: Val | undefined): string => (v === null || v === undefined ? '' : String(v));

/**
 * One row per step at which any series has a point, columns `step,epoch,time_s` then every metric (empty
 * where a series has no point at that step). Columns that are empty throughout are still written, so files
 * of different runs line up.
 */
export function seriesToCsv(s: RunSeries): string {
  const rows = new Map<number, { epoch: number; t: number; vals: (Val | undefined)[] }>();
  COLUMNS.forEach((col, c) => {
    const tab = s[col.table] as unknown as XColumns & Record<string, Val[]>;
    const ys = tab[col.id];
    for (let i = 0; i < tab.step.length; i++) {
      let r = rows.get(tab.step[i]);
      if (!r)
        rows.set(
          tab.step[i],
          (r = { epoch: tab.epoch[i], t: tab.t[i], vals: new Array(COLUMNS.length) }),
        );
      r.vals[c] = ys[i];
    }
  });
  const t0 = s.t0 ?? 0;
  const lines = [['step', 'epoch', 'time_s', ...COLUMNS.map((c) => c.csv)].join(',')];
  for (const step of [...rows.keys()].sort((a, b) => a - b)) {
    const r = rows.get(step)!;
    lines.push(
      [
        String(step),
        cell(r.epoch),
        cell(Number(((r.t - t0) / 1000).toFixed(3))),
        ...r.vals.map(cell),
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

/** Every finite point of every series as a TensorBoard scalar (wall time in seconds). */
export function seriesToScalars(s: RunSeries): ScalarPoint[] {
  const out: ScalarPoint[] = [];
  for (const col of COLUMNS) {
    const tab = s[col.table] as unknown as XColumns & Record<string, Val[]>;
    const ys = tab[col.id];
    for (let i = 0; i < tab.step.length; i++) {
      const v = ys[i];
      if (v !== null && Number.isFinite(v))
        out.push({ tag: col.tag, step: tab.step[i], wallTime: tab.t[i] / 1000, value: v });
    }
  }
  return out;
}
