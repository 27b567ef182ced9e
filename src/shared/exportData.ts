/**
 * Exports of a run's series: one CSV with every series joined on the step, and TensorBoard scalars.
 * No vscode, no DOM.
 */
import type { RunSeries, Val, XColumns } from './series';
import type { ScalarPoint } from './tfevents';

/** CSV columns after `step,epoch,time_s`: [header, table, column]. */
const COLUMNS: readonly [string, 'steps' | 'fisher' | 'evals', string][] = [
  ['loss', 'steps', 'loss'],
  ['lr', 'steps', 'lr'],
  ['penalty', 'steps', 'penalty'],
  ['grad_norm', 'steps', 'gradNorm'],
  ['examples_per_sec', 'steps', 'examplesPerSec'],
  ['trF', 'fisher', 'trF'],
  ['trF_stderr', 'fisher', 'trFStderr'],
  ['trF_B', 'fisher', 'trFB'],
  ['test_loss', 'evals', 'testLoss'],
  ['test_acc', 'evals', 'testAcc'],
  ['train_loss', 'evals', 'trainLoss'],
  ['train_acc', 'evals', 'trainAcc'],
  ['clean_loss', 'evals', 'cleanLoss'],
  ['clean_acc', 'evals', 'cleanAcc'],
  ['noisy_loss', 'evals', 'noisyLoss'],
  ['noisy_acc', 'evals', 'noisyAcc'],
];

/** TensorBoard tags of the same columns. */
const TAGS: Record<string, string> = {
  loss: 'train/loss',
  lr: 'train/lr',
  penalty: 'train/penalty',
  grad_norm: 'train/grad_norm',
  examples_per_sec: 'train/examples_per_sec',
  trF: 'fisher/trF',
  trF_stderr: 'fisher/trF_stderr',
  trF_B: 'fisher/trF_B',
  test_loss: 'eval/test_loss',
  test_acc: 'eval/test_acc',
  train_loss: 'eval/train_loss',
  train_acc: 'eval/train_acc',
  clean_loss: 'eval/clean_loss',
  clean_acc: 'eval/clean_acc',
  noisy_loss: 'eval/noisy_loss',
  noisy_acc: 'eval/noisy_acc',
};

const cell = (v: Val | undefined): string => (v === null || v === undefined ? '' : String(v));

/**
 * One row per step at which any series has a point, columns `step,epoch,time_s` then every metric (empty
 * where a series has no point at that step). Columns that are empty throughout are still written, so files
 * of different runs line up.
 */
export function seriesToCsv(s: RunSeries): string {
  const rows = new Map<number, { epoch: number; t: number; vals: (Val | undefined)[] }>();
  COLUMNS.forEach(([, tabName, col], c) => {
    const tab = s[tabName] as unknown as XColumns & Record<string, Val[]>;
    const ys = tab[col];
    for (let i = 0; i < tab.step.length; i++) {
      let r = rows.get(tab.step[i]);
      if (!r) rows.set(tab.step[i], (r = { epoch: tab.epoch[i], t: tab.t[i], vals: new Array(COLUMNS.length) }));
      r.vals[c] = ys[i];
    }
  });
  const t0 = s.t0 ?? 0;
  const lines = [['step', 'epoch', 'time_s', ...COLUMNS.map((c) => c[0])].join(',')];
  for (const step of [...rows.keys()].sort((a, b) => a - b)) {
    const r = rows.get(step)!;
    lines.push([String(step), cell(r.epoch), cell(Number(((r.t - t0) / 1000).toFixed(3))), ...r.vals.map(cell)].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Every finite point of every series as a TensorBoard scalar (wall time in seconds). */
export function seriesToScalars(s: RunSeries): ScalarPoint[] {
  const out: ScalarPoint[] = [];
  for (const [name, tabName, col] of COLUMNS) {
    const tab = s[tabName] as unknown as XColumns & Record<string, Val[]>;
    const ys = tab[col];
    for (let i = 0; i < tab.step.length; i++) {
      const v = ys[i];
      if (v !== null && Number.isFinite(v)) out.push({ tag: TAGS[name], step: tab.step[i], wallTime: tab.t[i] / 1000, value: v });
    }
  }
  return out;
}
