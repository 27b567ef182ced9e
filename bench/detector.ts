/**
 * `npm run bench -- detector`: the explosion warning's precision and recall on the labelled corpus
 * (bench/detector-corpus.json, built by bench/detectorCorpus.ts; labels explained there). Two rules are measured:
 * - **live**: what a training run warns with no reference (its early peak against its own Tr(F) at initialisation);
 * - **with references**: what `fisher-lens detect` says given all runs of a source together (each run against the
 *   run at its group's best learning rate, where it has a smaller one).
 * The rule's constants were fixed on the MNIST runs; other datasets are reported separately as the check.
 */
import fs from 'node:fs';
import { detectRuns, type DetectSubject } from '../src/runs/detect';
import { CORPUS_FILE, type CorpusRun } from './detectorCorpus';

export interface Score {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  undecided: number;
  precision: number;
  recall: number;
}

export function loadCorpus(file = CORPUS_FILE): CorpusRun[] {
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { runs: CorpusRun[] }).runs;
}

export const subject = (r: CorpusRun): DetectSubject => ({
  id: r.id,
  config: r.config,
  testAcc: r.testAcc,
  bestLr: r.bestLr ?? null,
  fisher: r.fisher.map(([step, trF, stderr]) => ({ step, trF, stderr })),
  loss: r.loss.map(([step, loss]) => ({ step, loss })),
});

/** Verdicts per run id: `references` as in {@link detectRuns}, runs grouped by source. */
export function verdicts(runs: CorpusRun[], references: boolean): Map<string, boolean | null> {
  const out = new Map<string, boolean | null>();
  for (const src of new Set(runs.map((r) => r.source))) {
    const mine = runs.filter((r) => r.source === src);
    for (const v of detectRuns(mine.map(subject), { references }))
      out.set(`${src}/${v.id}`, v.verdict.explosion);
  }
  return out;
}

/** Precision and recall over the labelled runs (an undecided verdict counts as "no warning"). */
export function score(runs: CorpusRun[], v: Map<string, boolean | null>): Score {
  const s: Score = { tp: 0, fp: 0, fn: 0, tn: 0, undecided: 0, precision: NaN, recall: NaN };
  for (const r of runs) {
    if (r.label === null) continue;
    const got = v.get(`${r.source}/${r.id}`) ?? null;
    if (got === null) s.undecided++;
    if (got === true) r.label ? s.tp++ : s.fp++;
    else r.label ? s.fn++ : s.tn++;
  }
  s.precision = s.tp / (s.tp + s.fp);
  s.recall = s.tp / (s.tp + s.fn);
  return s;
}

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');

/** A preset run's size, from its id (`<dataset>-<preset>-<size>-s<seed>`, scripts/detector-corpus.ts). */
const sizeOf = (r: CorpusRun) => /-(default|short|e2e|tiny)-s\d+$/.exec(r.id)?.[1] ?? null;

export function runDetectorBench(file?: string): void {
  const runs = loadCorpus(file);
  const live = verdicts(runs, false);
  const refd = verdicts(runs, true);
  console.log(
    '| source | labelled | live: precision | recall | with references: precision | recall | undecided (live / refs) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  const rows: [string, CorpusRun[]][] = [];
  for (const src of new Set(runs.map((r) => r.source))) {
    const mine = runs.filter((r) => r.source === src);
    rows.push([src, mine]);
    const sizes = [...new Set(mine.map(sizeOf))].filter((x): x is string => x !== null);
    if (sizes.length > 1)
      for (const size of sizes)
        rows.push([`  ${src} ${size}`, mine.filter((r) => sizeOf(r) === size)]);
  }
  rows.push(['all', runs]);
  for (const [name, mine] of rows) {
    const a = score(mine, live);
    const b = score(mine, refd);
    console.log(
      `| ${name} | ${a.tp + a.fn + a.fp + a.tn} (${a.tp + a.fn} exploding) | ${pct(a.precision)} (${a.tp} TP, ${a.fp} FP) | ${pct(a.recall)} (${a.fn} FN) | ${pct(b.precision)} (${b.tp} TP, ${b.fp} FP) | ${pct(b.recall)} (${b.fn} FN) | ${a.undecided} / ${b.undecided} |`,
    );
  }
  console.log(
    '\n(an undecided verdict is no warning: it counts as a false negative on an exploding run, never dropped)',
  );
  console.log('\nRuns the live rule gets wrong (label / live / with references):');
  for (const r of runs) {
    if (r.label === null) continue;
    const k = `${r.source}/${r.id}`;
    const a = live.get(k) === true;
    const b = refd.get(k) === true;
    if (a !== r.label || b !== r.label)
      console.log(
        `  ${k}: ${r.label ? 'exploding' : 'not'} / ${a ? 'warns' : 'silent'} / ${b ? 'warns' : 'silent'} (${r.labelWhy})`,
      );
  }
}
