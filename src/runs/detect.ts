/**
 * The detector over finished runs (`fisher-lens detect`, the bench's corpus): replays each run's Tr(F) and loss
 * events through the one {@link ExplosionDetector}, with a reference run where the runs given hold one.
 *
 * Reference (the paper's comparison, docs/DETECTOR.md): runs are grouped by everything but seed, learning rate and
 * penalty (same model, data, batch, optimiser, length, label noise). In a group, the *best known learning rate* is
 * the one recorded for the set-up by what produced the runs — the config's `fisher.referenceLr` (the presets' η*), or a
 * reproduction's η* (its plan.json next to its `runs/`
 * folder, from the reproduction's own LR search: see {@link recordedBestLr}) — where the group has an unpenalised run
 * at it; otherwise the one whose unpenalised runs reach the highest mean test accuracy (ties: the larger), among at
 * least two learning rates. An unpenalised run at the best learning rate *is* the reference (no explosion, by the paper's definition);
 * every other run of the group is compared with the unpenalised run at the best learning rate with the same seed
 * (else the nearest seed). A run in a group without a best learning rate is compared with its own Tr(F) at
 * initialisation.
 */
import {
  ExplosionDetector,
  detectorOptionsFromConfig,
  mergeSeries,
  type DetectorOptions,
  type DetectorReference,
  type DetectorState,
  type DetectorVerdict,
} from '../shared/detector';
import fs from 'node:fs';
import path from 'node:path';
import type { RunData } from './reader';

/** What the detector needs of a run. */
export interface DetectSubject {
  id: string;
  config: {
    seed: number;
    dataset: { name: string; path?: string; trainSize: number };
    model: unknown;
    optimizer: { lr: number; momentum: number; weightDecay?: number; batchSize: number };
    schedule: { steps?: number; epochs?: number; lrSchedule?: string; milestones?: number[] };
    labelNoise?: { fraction: number };
    penalty?: { kind: string };
    fisher: { lossThreshold: number; referenceLr?: number };
  };
  fisher: readonly { step: number; trF: number; stderr?: number | null }[];
  loss: readonly { step: number; loss: number }[];
  /** Best (else final) test accuracy, for picking the best learning rate; null when not evaluated. */
  testAcc: number | null;
  /**
   * The best learning rate recorded for this run's set-up by what produced it (a reproduction's η*), preferred to
   * the test-accuracy rule; absent or null when none is recorded.
   */
  bestLr?: number | null;
}

export interface DetectResult {
  id: string;
  lr: number;
  penalty: string;
  state: DetectorState;
  verdict: DetectorVerdict;
  /** The reference used (null: the run's own start). */
  reference: (DetectorReference & { runId: string }) | null;
}

/** The group a run's reference comes from: everything but seed, learning rate and penalty. */
export function groupKey(c: DetectSubject['config']): string {
  const s = c.schedule;
  return JSON.stringify([
    c.dataset.name,
    c.dataset.path ?? null,
    c.dataset.trainSize,
    c.model,
    c.optimizer.momentum,
    c.optimizer.weightDecay ?? 0,
    c.optimizer.batchSize,
    s.steps ?? null,
    s.epochs ?? null,
    s.lrSchedule ?? null,
    s.milestones ?? null,
    c.labelNoise?.fraction ?? 0,
  ]);
}

const penaltyOf = (r: DetectSubject) => r.config.penalty?.kind ?? 'none';

/** Two learning rates are the same one (a recorded rate against a config's, both read from JSON). */
export const sameLr = (a: number, b: number): boolean =>
  Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));

/** Replay one run through the detector (`extra`: options over those of its config). */
export function replay(r: DetectSubject, extra: Partial<DetectorOptions> = {}): DetectorState {
  const det = new ExplosionDetector(detectorOptionsFromConfig(r.config, extra));
  for (const x of mergeSeries({ fisher: r.fisher, loss: r.loss })) det.add(x);
  return det.state;
}

/**
 * For each run, the run it is compared with (or null): see the module comment. `useReferences: false` gives every
 * run its own start (what the live warning does without a reference).
 */
export function pickReferences(
  runs: readonly DetectSubject[],
): Map<string, DetectSubject | 'self' | null> {
  const out = new Map<string, DetectSubject | 'self' | null>();
  const groups = new Map<string, DetectSubject[]>();
  for (const r of runs) {
    const k = groupKey(r.config);
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  for (const members of groups.values()) {
    const byLr = new Map<number, number[]>();
    for (const r of members)
      if (penaltyOf(r) === 'none' && r.testAcc !== null && Number.isFinite(r.testAcc))
        byLr.set(r.config.optimizer.lr, [...(byLr.get(r.config.optimizer.lr) ?? []), r.testAcc]);
    let best: number | null = null;
    let bestAcc = -Infinity;
    for (const [lr, accs] of byLr) {
      const m = accs.reduce((a, b) => a + b, 0) / accs.length;
      if (m > bestAcc + 1e-12 || (Math.abs(m - bestAcc) <= 1e-12 && lr > (best ?? -Infinity))) {
        best = lr;
        bestAcc = m;
      }
    }
    // A best learning rate needs something to be best among.
    if (byLr.size < 2) best = null;
    // A recorded best learning rate (the reproduction's η*, chosen by its LR search on a seed of its own) wins over
    // the test accuracies of these runs, which at neighbouring learning rates differ by less than their seed
    // noise — where the group has an unpenalised run at it.
    const recorded = recordedInGroup(members);
    if (recorded !== null) best = recorded;
    for (const r of members) {
      if (best === null) {
        out.set(r.id, null);
        continue;
      }
      if (r.config.optimizer.lr === best && penaltyOf(r) === 'none') {
        out.set(r.id, 'self');
        continue;
      }
      const cands = members.filter(
        (x) => x.config.optimizer.lr === best && penaltyOf(x) === 'none' && x.id !== r.id,
      );
      cands.sort(
        (a, b) =>
          Math.abs(a.config.seed - r.config.seed) - Math.abs(b.config.seed - r.config.seed) ||
          (a.id < b.id ? -1 : 1),
      );
      out.set(r.id, cands[0] ?? null);
    }
  }
  return out;
}

/** The group's recorded best learning rate (the most common among its runs) with an unpenalised run at it, or null. */
function recordedInGroup(members: readonly DetectSubject[]): number | null {
  const counts = new Map<number, number>();
  for (const r of members)
    if (typeof r.bestLr === 'number' && r.bestLr > 0 && Number.isFinite(r.bestLr))
      counts.set(r.bestLr, (counts.get(r.bestLr) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0]);
  for (const [lr] of ranked) {
    const at = members.find((r) => penaltyOf(r) === 'none' && sameLr(r.config.optimizer.lr, lr));
    if (at) return at.config.optimizer.lr;
  }
  return null;
}

/** The detector's verdict on each run, with references among the runs given (`references: false`: none). */
export function detectRuns(
  runs: readonly DetectSubject[],
  opts: { references?: boolean; extra?: Partial<DetectorOptions> } = {},
): DetectResult[] {
  const refs: Map<string, DetectSubject | 'self' | null> =
    opts.references === false ? new Map() : pickReferences(runs);
  const own = new Map<string, DetectorState>();
  const ownState = (r: DetectSubject) => {
    let s = own.get(r.id);
    if (!s) own.set(r.id, (s = replay(r, { ...opts.extra, reference: null })));
    return s;
  };
  return runs.map((r) => {
    const got = refs.get(r.id) ?? null;
    if (got === 'self') {
      const state = ownState(r);
      const verdict: DetectorVerdict = {
        explosion: false,
        rise: 1,
        base: null,
        reason: `it is the reference of its group (${
          typeof r.bestLr === 'number' && sameLr(r.bestLr, r.config.optimizer.lr)
            ? 'the recorded best learning rate'
            : 'the best test accuracy'
        }, at lr ${r.config.optimizer.lr})`,
      };
      return {
        id: r.id,
        lr: r.config.optimizer.lr,
        penalty: penaltyOf(r),
        state,
        verdict,
        reference: null,
      };
    }
    const ref = got;
    let reference: DetectResult['reference'] = null;
    if (ref) reference = referenceOf(ref, ownState(ref));
    const state = reference ? replay(r, { ...opts.extra, reference }) : ownState(r);
    return {
      id: r.id,
      lr: r.config.optimizer.lr,
      penalty: penaltyOf(r),
      state,
      verdict: state.verdict,
      reference,
    };
  });
}

/** A run folder as the detector's subject (throws {@link RunReadError} naming the file). */
/**
 * A finished run as the detector's reference, from its own (unreferenced) replay: its early peak, whether it
 * rises over its own start, and the label the warning names; null when it has no early peak.
 */
export function referenceOf(
  ref: DetectSubject,
  own: DetectorState,
): (DetectorReference & { runId: string; lr: number }) | null {
  const peak = own.earlyPeak;
  if (!peak) return null;
  return {
    peak: peak.value,
    stderr: peak.stderr,
    risesOverStart: own.verdict.explosion,
    label: `run ${ref.id} at lr ${ref.config.optimizer.lr}`,
    runId: ref.id,
    lr: ref.config.optimizer.lr,
  };
}

export function subjectOf(run: RunData): DetectSubject {
  const evals = run.byType.eval.map((e) => e.testAcc).filter((a) => Number.isFinite(a));
  const testAcc =
    run.summary?.bestTestAcc ??
    run.summary?.finalTestAcc ??
    (evals.length ? Math.max(...evals) : null);
  return {
    id: run.id,
    bestLr: run.config ? recordedBestLr(run.dir, run.config) : null,
    config: run.config ?? scriptSubjectConfig(run),
    fisher: run.byType.fisher.map((e) => ({ step: e.step, trF: e.trF, stderr: e.trFStderr })),
    loss: run.byType.step
      .filter((e) => typeof e.loss === 'number')
      .map((e) => ({ step: e.step, loss: e.loss as number })),
    testAcc: typeof testAcc === 'number' ? testAcc : null,
  };
}

/**
 * The detector's view of a run of the user's own script (`fisher-lens run`: no run config): a group of its own (never
 * a reference for, nor compared with, another run), its learning rate as its steps report it.
 */
function scriptSubjectConfig(run: RunData): DetectSubject['config'] {
  const lr = run.byType.step.find((e) => typeof e.lr === 'number')?.lr ?? 0;
  return {
    seed: run.script?.seed ?? 0,
    dataset: { name: `script run ${run.id}`, trainSize: 0 },
    model: run.header?.model ?? null,
    optimizer: { lr, momentum: 0, batchSize: 1 },
    schedule: {},
    fisher: { lossThreshold: 1 },
  };
}

/** Parsed plan files by path, with the size and mtime they were read at (a reproduction rewrites its plan). */
const plans = new Map<string, { key: string; plan: unknown }>();

/**
 * The best learning rate recorded for a run by whoever made it: the run config's `fisher.referenceLr` (the presets
 * declare their η*), else, for a run in a reproduction's `runs/` folder, `<repro>/plan.json`'s `etaStar`
 * (`cnnEtaStar` for its SimpleCNN arms, which have their own LR search), when the run's dataset and model
 * architecture are the plan's. Everything read is untrusted: anything missing, unreadable, too large or of the
 * wrong type gives null (the test-accuracy rule then applies), never an error.
 */
export function recordedBestLr(
  runDir: string,
  config: { dataset: { name: string }; model: unknown; fisher?: { referenceLr?: unknown } },
): number | null {
  const declared = config.fisher?.referenceLr;
  if (typeof declared === 'number' && Number.isFinite(declared) && declared > 0) return declared;
  const runsDir = path.dirname(path.resolve(runDir));
  if (path.basename(runsDir) !== 'runs') return null;
  const file = path.join(path.dirname(runsDir), 'plan.json');
  let plan: unknown = null;
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > 16 * 1024 * 1024) return null;
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = plans.get(file);
    if (hit?.key === key) plan = hit.plan;
    else {
      plan = JSON.parse(fs.readFileSync(file, 'utf8'));
      plans.set(file, { key, plan });
    }
  } catch {
    return null;
  }
  if (!plan || typeof plan !== 'object') return null;
  const p = plan as {
    etaStar?: unknown;
    cnnEtaStar?: unknown;
    setup?: { dataset?: { name?: unknown }; model?: { arch?: unknown } };
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
  if (p.setup?.dataset?.name !== config.dataset.name) return null;
  const arch = (config.model as { arch?: unknown } | null)?.arch;
  if (arch === 'simplecnn' && p.setup?.model?.arch !== 'simplecnn') return num(p.cnnEtaStar);
  return arch === p.setup?.model?.arch ? num(p.etaStar) : null;
}
