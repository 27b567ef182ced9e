/**
 * The run an editor-launched run's explosion warning is compared with (docs/DETECTOR.md, "reference"): the paper's
 * comparison is with the same model and data at the best known learning rate. Before a run starts, the runs root is
 * searched for
 * 1. the **pinned explosion baseline** ("Pin as Explosion Baseline" in the Runs tree) when it applies to the run, else
 * 2. the **best known learning rate**, as `fisher-lens detect` picks it (src/runs/detect.ts): among the completed,
 *    unpenalised runs of the same model and data (the detector's group: everything but seed, learning rate and
 *    penalty), the best learning rate recorded for the set-up — the run config's `fisher.referenceLr` (the presets
 *    declare their η*), or a reproduction's η* when the runs root is its runs/ folder — where a run at it finished, else the
 *    one whose runs reach the best mean test accuracy (ties: the larger rate); of its runs
 *    the nearest seed. When that is the run's own learning rate (or no such run exists: the first run of a set-up,
 *    such as the large-LR preset run first) there is none and the run is compared with its own start. The trainer (`train --reference`) checks the group again and reads the reference's
 * events itself: nothing here is trusted beyond choosing a folder.
 */
import path from 'node:path';
import { groupKey, recordedBestLr, replay, sameLr, subjectOf, type DetectSubject } from './detect';
import { listRuns, readRun, type RunFolderInfo } from './reader';

export interface ReferencePick {
  dir: string;
  runId: string;
  lr: number;
  /** 'pinned': the user's baseline; 'best-lr': the best known learning rate in the runs root. */
  why: 'pinned' | 'best-lr';
}

const penaltyOf = (c: DetectSubject['config']) => c.penalty?.kind ?? 'none';

/** Why `ref` cannot be the reference of a run with config `cfg` (null: it can). */
export function referenceProblem(
  ref: Pick<RunFolderInfo, 'id' | 'state' | 'config' | 'summary'>,
  cfg: DetectSubject['config'],
): string | null {
  if (!ref.config) return `run ${ref.id} has no valid run config`;
  if (ref.state !== 'completed') return `run ${ref.id} is ${ref.state}, not completed`;
  if (penaltyOf(ref.config) !== 'none') return `run ${ref.id} trains with a penalty`;
  if (groupKey(ref.config) !== groupKey(cfg))
    return `run ${ref.id} differs in model, data, optimiser or length`;
  if (!(ref.summary?.peakTrF != null && ref.summary.peakTrF > 0))
    return `run ${ref.id} has no early Tr(F) peak`;
  return null;
}

/**
 * The reference for a run about to start with config `cfg` (see the module comment), or null. `pinned`: the run id
 * of the pinned baseline in this runs root (ignored where it does not apply); `exclude`: the run's own id.
 */
export function pickReferenceRun(
  runsRoot: string,
  cfg: DetectSubject['config'],
  /** `runs`: the runs root's listing, given (tests); then the candidates' events are not read again. */
  opts: { pinned?: string | null; exclude?: string; runs?: RunFolderInfo[] } = {},
): ReferencePick | null {
  const runs = (opts.runs ?? listRuns(runsRoot)).filter((r) => r.id !== opts.exclude);
  if (opts.pinned) {
    const p = runs.find((r) => r.id === opts.pinned);
    if (
      p?.config &&
      referenceProblem(p, cfg) === null &&
      p.config.optimizer.lr !== cfg.optimizer.lr &&
      (opts.runs !== undefined || hasEarlyPeak(p.dir))
    )
      return { dir: p.dir, runId: p.id, lr: p.config.optimizer.lr, why: 'pinned' };
  }
  const lr = cfg.optimizer.lr;
  const cands = runs.filter((r) => referenceProblem(r, cfg) === null);
  const accOf = (r: RunFolderInfo) => r.summary?.bestTestAcc ?? r.summary?.finalTestAcc ?? null;
  const byLr = new Map<number, number[]>();
  for (const r of cands) {
    const a = accOf(r);
    if (typeof a === 'number' && Number.isFinite(a))
      byLr.set(r.config!.optimizer.lr, [...(byLr.get(r.config!.optimizer.lr) ?? []), a]);
  }
  let best: number | null = null;
  let bestAcc = -Infinity;
  for (const [l, accs] of byLr) {
    const m = accs.reduce((x, y) => x + y, 0) / accs.length;
    if (m > bestAcc + 1e-12 || (Math.abs(m - bestAcc) <= 1e-12 && l > (best ?? -Infinity))) {
      best = l;
      bestAcc = m;
    }
  }
  // A recorded best learning rate wins, as in `fisher-lens detect`: the one this run's config declares
  // (`fisher.referenceLr`: the presets' η*), else one a finished run of the group records (its config's, or a
  // reproduction's η* when the runs root is its runs/ folder).
  const recorded = [
    recordedBestLr(path.join(runsRoot, opts.exclude ?? 'new-run'), cfg),
    ...cands.map((r) => recordedBestLr(r.dir, r.config!)),
  ];
  for (const rec of recorded) {
    if (rec === null) continue;
    const at = cands.find((c) => sameLr(c.config!.optimizer.lr, rec));
    if (at) {
      best = at.config!.optimizer.lr;
      break;
    }
  }
  if (best === null || Math.abs(best - lr) <= 1e-12 * Math.max(1, lr)) return null;
  const atBest = cands
    .filter((r) => r.config!.optimizer.lr === best && accOf(r) !== null)
    .sort(
      (a, b) =>
        Math.abs(a.config!.seed - cfg.seed) - Math.abs(b.config!.seed - cfg.seed) ||
        b.startedAt - a.startedAt ||
        (a.id < b.id ? -1 : 1),
    );
  const r = atBest.find((x) => opts.runs !== undefined || hasEarlyPeak(x.dir));
  return r ? { dir: path.resolve(r.dir), runId: r.id, lr: best, why: 'best-lr' } : null;
}

/**
 * Whether the run's own events give it an early peak (what `train --reference` reads: a folder whose summary claims a
 * peak its events do not hold would make the new run's start fail, so it is passed over).
 */
function hasEarlyPeak(dir: string): boolean {
  try {
    return replay(subjectOf(readRun(dir))).earlyPeak !== null;
  } catch {
    return false;
  }
}
