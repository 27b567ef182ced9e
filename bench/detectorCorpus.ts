/**
 * The detector's labelled corpus: `node --import tsx bench/detectorCorpus.ts [--keep presets|reproduction]` compacts run folders
 * (default: the MNIST reproduction's committed runs under docs/reproduction/mnist/runs and the preset runs that
 * scripts/detector-corpus.ts trains into .detector-corpus/runs) into bench/detector-corpus.json: per run its
 * config's grouping fields, test accuracy, Tr(F) measurements (with standard errors) and training losses, plus a
 * label. `npm run bench -- detector` reads that file, so the bench and the tests never retrain.
 *
 * Labels come from the learning rate and the penalty, never from the detector:
 * - unpenalised runs: lr ≤ η* ÷ 10 → exploding; lr ≥ η* → not; in between → unlabelled. η* is the reproduction's
 *   (plan.json `etaStar`; `cnnEtaStar` for its SimpleCNN arms) and, for the presets, their η* (`LARGE_LR`).
 * - penalised runs: exploding unless the penalty removed the peak: the run's early peak (the product's one
 *   definition; the rule's constants — factor, significance, base — play no part) is at most the geometric midpoint
 *   of the early peaks of the same seed's unpenalised run at the same learning rate and of its η* run. Without both
 *   of those runs: unlabelled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readRun } from '../src/runs/reader';
import { subjectOf } from '../src/detectCommand';
import { groupKey, replay, type DetectSubject } from '../src/runs/detect';
import { LARGE_LR } from '../src/shared/presets';

export interface CorpusRun extends Omit<DetectSubject, 'fisher' | 'loss'> {
  source: string;
  /** [step, Tr(F), stderr] */
  fisher: [number, number, number | null][];
  /** [step, loss] */
  loss: [number, number][];
  etaStar: number;
  label: boolean | null;
  labelWhy: string;
}

export const CORPUS_FILE = path.join(__dirname, 'detector-corpus.json');

const sig = (x: number) => Number(x.toPrecision(5));

/** The early peak (the product's one definition, src/shared/detector.ts), for the penalised runs' labels. */
export function labelPeak(r: CorpusRun): number | null {
  return (
    replay({
      ...r,
      fisher: r.fisher.map(([step, trF, stderr]) => ({ step, trF, stderr })),
      loss: r.loss.map(([step, loss]) => ({ step, loss })),
    }).earlyPeak?.value ?? null
  );
}

function compact(dir: string, source: string, etaStar: number): CorpusRun | null {
  const run = readRun(dir);
  if (run.state !== 'completed') return null;
  const s = subjectOf(run);
  const c = run.config;
  if (!c) return null; // a run of a user's script: not part of the labelled corpus
  return {
    id: s.id,
    source,
    config: {
      seed: c.seed,
      dataset: { name: c.dataset.name, trainSize: c.dataset.trainSize },
      model: c.model,
      optimizer: c.optimizer,
      schedule: c.schedule,
      labelNoise: { fraction: c.labelNoise.fraction },
      penalty: { kind: c.penalty.kind },
      fisher: { lossThreshold: c.fisher.lossThreshold },
    },
    testAcc: s.testAcc,
    bestLr: s.bestLr ?? null,
    fisher: s.fisher.map((f) => [f.step, sig(f.trF), f.stderr == null ? null : sig(f.stderr)]),
    // The verdict does not read losses (only Tr(F_i) does): at most ~150 per run keep the file small.
    loss: s.loss
      .filter((_, i, a) => i % Math.max(1, Math.ceil(a.length / 150)) === 0)
      .map((l) => [l.step, sig(l.loss)]),
    etaStar,
    label: null,
    labelWhy: '',
  };
}

/** Label every run (see the module comment). */
export function label(runs: CorpusRun[]): void {
  const eps = 1e-9;
  for (const r of runs) {
    const lr = r.config.optimizer.lr;
    const pen = r.config.penalty?.kind ?? 'none';
    if (pen === 'none') {
      if (lr <= r.etaStar / 10 + eps) [r.label, r.labelWhy] = [true, `lr ${lr} ≤ η*/10`];
      else if (lr >= r.etaStar - eps) [r.label, r.labelWhy] = [false, `lr ${lr} ≥ η* ${r.etaStar}`];
      else [r.label, r.labelWhy] = [null, `lr ${lr} between η*/10 and η*`];
      continue;
    }
    const same = (x: CorpusRun) =>
      x.source === r.source &&
      groupKey(x.config) === groupKey(r.config) &&
      x.config.seed === r.config.seed &&
      (x.config.penalty?.kind ?? 'none') === 'none';
    const base = runs.find((x) => same(x) && x.config.optimizer.lr === lr);
    // η* of a penalised run: its group's, else the same set-up without label noise (the noise arm has no η* run).
    const star = runs.find((x) => same(x) && Math.abs(x.config.optimizer.lr - r.etaStar) < eps);
    const [p, pb, ps] = [labelPeak(r), base && labelPeak(base), star && labelPeak(star)];
    if (p == null || pb == null || ps == null) {
      [r.label, r.labelWhy] = [
        null,
        `${pen} penalty: no unpenalised run at lr ${lr} and η* with this seed`,
      ];
      continue;
    }
    const mid = Math.sqrt(pb * ps);
    r.label = p > mid;
    r.labelWhy = `${pen} penalty: peak ${p.toFixed(1)} vs midpoint ${mid.toFixed(1)} of ${pb.toFixed(1)} (lr ${lr}) and ${ps.toFixed(1)} (η*): ${r.label ? 'not removed' : 'removed'}`;
  }
}

/**
 * Rebuild the corpus file. Each part is rebuilt from its run folders where they exist and otherwise kept from the
 * current file, so either part can be regenerated alone: after new reproduction runs,
 * `node --import tsx bench/detectorCorpus.ts` (without .detector-corpus/ the preset runs are kept as they are);
 * `--keep presets` / `--keep reproduction` keeps that part even where its folders exist.
 */
function main() {
  const root = path.join(__dirname, '..');
  const keep = new Set<string>();
  for (let i = 2; i < process.argv.length; i++)
    if (process.argv[i] === '--keep') keep.add(process.argv[++i]);
  const old: CorpusRun[] = fs.existsSync(CORPUS_FILE)
    ? (JSON.parse(fs.readFileSync(CORPUS_FILE, 'utf8')) as { runs: CorpusRun[] }).runs
    : [];
  const kept = (part: string) => {
    const mine = old.filter((r) =>
      part === 'reproduction'
        ? r.source.startsWith('reproduction-')
        : r.source.startsWith('presets-'),
    );
    console.log(`${part}: kept ${mine.length} runs from ${path.relative(root, CORPUS_FILE)}`);
    return mine;
  };
  const out: CorpusRun[] = [];
  const repro = path.join(root, 'docs/reproduction/mnist');
  if (keep.has('reproduction') || !fs.existsSync(path.join(repro, 'runs')))
    out.push(...kept('reproduction'));
  else {
    const plan = JSON.parse(fs.readFileSync(path.join(repro, 'plan.json'), 'utf8')) as {
      etaStar: number;
      cnnEtaStar?: number | null;
    };
    for (const d of fs.readdirSync(path.join(repro, 'runs')).sort()) {
      // Each model is labelled against its own η*: the SimpleCNN arms have their own LR search.
      const arch = (
        JSON.parse(fs.readFileSync(path.join(repro, 'runs', d, 'config.json'), 'utf8')) as {
          model?: { arch?: string };
        }
      ).model?.arch;
      const eta = arch === 'simplecnn' && plan.cnnEtaStar ? plan.cnnEtaStar : plan.etaStar;
      const r = compact(path.join(repro, 'runs', d), 'reproduction-mnist', eta);
      if (r) out.push(r);
    }
  }
  const presets = path.join(root, '.detector-corpus/runs');
  if (keep.has('presets') || !fs.existsSync(presets)) out.push(...kept('presets'));
  else
    for (const d of fs.readdirSync(presets).sort()) {
      if (!fs.statSync(path.join(presets, d)).isDirectory()) continue;
      const r = compact(path.join(presets, d), 'presets', LARGE_LR);
      if (r) out.push({ ...r, source: `presets-${r.config.dataset.name}` });
    }
  label(out);
  fs.writeFileSync(CORPUS_FILE, `${JSON.stringify({ runs: out })}\n`);
  console.log(`${out.length} runs → ${path.relative(root, CORPUS_FILE)}`);
}

if (require.main === module) main();
