/**
 * Runs a reproduction: LR search → η* → the claims' runs → report. Resumable: finished runs with the planned
 * config are skipped; unfinished ones (or ones made with another config) are moved aside and rerun. The runner
 * that trains one run is injected, so tests drive the orchestration with a fake runner.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  allRunIds,
  buildPlan,
  cnnSearchRuns,
  pickEtaStar,
  searchRuns,
  setupFor,
  type AlphaSearch,
  type NoiseLength,
  type Plan,
  type ReproOptions,
  type RunSpec,
  type Setup,
} from './plan';
import {
  alphaSearchRuns,
  decideNoiseLength,
  noiseLengths,
  pickAlpha,
  type LengthTry,
} from './searches';
import { renderReport, type ReportMeta } from './report';
import { createReproProgress, type ReproProgress } from './progress';
import { finalNoisyAcc, finalTestAcc, type Results } from './results';
import { decide, fsStore, type RunStore } from './store';
import { analyze, type Analysis } from './verdicts';

/** Trains one run into `runsRoot/<spec.id>/`; reports progress; resolves with the run's final state. */
export type Runner = (
  spec: RunSpec,
  ctx: { runsRoot: string; onStep: (step: number) => void; signal: AbortSignal },
) => Promise<{ state: string; error?: string | null }>;

export interface ReproduceDeps {
  runner: Runner;
  store?: RunStore;
  progress?: ReproProgress;
  signal?: AbortSignal;
  now?: () => number;
}

export interface ReproduceResult {
  plan: Plan;
  results: Results;
  analysis: Analysis;
  reportPath: string;
  /** Runs trained / skipped / moved aside in this invocation. */
  trained: string[];
  skipped: string[];
  movedAside: string[];
  interrupted: boolean;
}

/** Default output folder: `.fisherlens/reproduce/<dataset>` (`<dataset>-quick` for --quick, so the two never collide). */
export const defaultOut = (opts: ReproOptions, cwd = process.cwd()) =>
  path.join(cwd, '.fisherlens', 'reproduce', `${opts.dataset.label}${opts.quick ? '-quick' : ''}`);

export class InterruptedError extends Error {}

export async function reproduce(
  opts: ReproOptions & { out: string; command?: string; notes?: string[] },
  deps: ReproduceDeps,
): Promise<ReproduceResult> {
  const t0 = (deps.now ?? Date.now)();
  const setup = setupFor(opts);
  const store = deps.store ?? fsStore(opts.out);
  const progress = deps.progress ?? createReproProgress({ silent: true });
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  deps.signal?.addEventListener('abort', onAbort);
  fs.mkdirSync(opts.out, { recursive: true });

  const search = [...searchRuns(setup), ...cnnSearchRuns(setup)];
  // Totals for the progress bar: the longest the plan can get (every (e) length rule running to its budget).
  const bound = planBound(setup);
  progress.start(bound.runs, bound.work);

  const trained: string[] = [];
  const skipped: string[] = [];
  const movedAside: string[] = [];
  let interrupted = false;

  // Runs already dealt with in this invocation (searches share their unpenalised runs).
  const handled = new Set<string>();
  const ensure = async (specs: RunSpec[]) => {
    for (const spec of specs) {
      if (ac.signal.aborted) {
        interrupted = true;
        return;
      }
      if (handled.has(spec.id)) continue;
      handled.add(spec.id);
      const st = store.state(spec.id);
      const d = decide(st, st === 'absent' ? null : store.config(spec.id), spec.config);
      if (d.action === 'skip') {
        skipped.push(spec.id);
        progress.skipped(spec.id, spec.steps * stepWeight(spec));
        continue;
      }
      if (d.action === 'rerun') {
        const owner = store.liveOwner(spec.id);
        if (owner !== null)
          throw new Error(
            `run ${spec.id} is being trained by process ${owner}; is another reproduction running in ${opts.out}?`,
          );
        const where = store.moveAside(spec.id, d.why);
        movedAside.push(spec.id);
        progress.log(`${spec.id}: ${d.why}; moved aside to ${where}`);
      }
      progress.runStarted(spec.id, spec.steps, stepWeight(spec));
      const started = Date.now();
      let state: string;
      let error: string | null | undefined;
      try {
        ({ state, error } = await deps.runner(spec, {
          runsRoot: store.runsRoot,
          onStep: (s) => progress.step(s),
          signal: ac.signal,
        }));
      } catch (e) {
        // An input error (missing dataset folder, bad IDX file) would fail every run: stop here.
        if ((e as Error).name === 'DataError' || (e as Error).name === 'ConfigError') throw e;
        state = 'failed';
        error = (e as Error).message;
      }
      trained.push(spec.id);
      const r = store.load(spec.id);
      const acc = finalTestAcc(r);
      const line = [
        acc !== null ? `test acc ${(100 * acc).toFixed(2)}%` : '',
        r.summary?.trFi != null ? `Tr(F_i) ${Number(r.summary.trFi.toPrecision(3))}` : '',
        error ? `error: ${error}` : '',
      ]
        .filter(Boolean)
        .join(', ');
      progress.runDone(spec.id, state, (Date.now() - started) / 1000, line);
      if (state === 'stopped' || ac.signal.aborted) {
        interrupted = true;
        return;
      }
    }
  };

  try {
    await ensure(search);
    let plan: Plan | null = null;
    const resultsOf = (specs: RunSpec[]) =>
      specs.map((r) => {
        const res = store.load(r.id);
        return { lr: r.lr, state: res.state, finalTestAcc: finalTestAcc(res) };
      });
    if (!interrupted) {
      const searchResults = resultsOf(searchRuns(setup));
      const eta = pickEtaStar(searchResults);
      const cnnResults = resultsOf(cnnSearchRuns(setup));
      const cnnEtaStar = setup.cnn ? pickEtaStar(cnnResults) : null;
      progress.log(
        `η* = ${eta} (LR search: ${searchResults.map((s) => `${s.lr} → ${s.finalTestAcc === null ? s.state : (100 * s.finalTestAcc).toFixed(2) + '%'}`).join(', ')})` +
          (cnnEtaStar !== null ? `; SimpleCNN η* = ${cnnEtaStar}` : ''),
      );
      const small = eta / 10;
      // α search for every penalty of (c), at η*/10 on the search seed.
      const alphaSearches: AlphaSearch[] = [];
      const runAlphaSearch = async (kind: AlphaSearch['kind'], noise: number, steps: number) => {
        const grid = noise > 0 ? setup.alphaSearch.noiseGrid : setup.alphaSearch.grid;
        const { base, runs } = alphaSearchRuns(setup, { kind, lr: small, noise, steps, grid });
        await ensure([base, ...runs.map((r) => r.spec)]);
        if (interrupted) return;
        const choice = pickAlpha(
          grid,
          runs.map((r) => {
            const res = store.load(r.spec.id);
            return { alpha: r.alpha, state: res.state, finalTestAcc: finalTestAcc(res) };
          }),
          finalTestAcc(store.load(base.id)),
        );
        alphaSearches.push({
          kind,
          noise,
          lr: base.lr,
          steps,
          baseRunId: base.id,
          runs: runs.map((r) => ({ alpha: r.alpha, runId: r.spec.id })),
          choice,
        });
        progress.log(
          `α search ${kind}${noise > 0 ? ` at ${Math.round(noise * 100)}% noise` : ''}: ${choice.reason}`,
        );
      };
      for (const kind of setup.penalties)
        if (!interrupted) await runAlphaSearch(kind, 0, setup.steps);
      // (e): the length rule per noise level, then FP's α search at that length.
      const lengths: NoiseLength[] = [];
      for (const noise of setup.noiseFractions) {
        const tries: LengthTry[] = [];
        for (;;) {
          if (interrupted) break;
          const d = decideNoiseLength(setup, tries);
          if (d.done) {
            lengths.push({ noise, tries, steps: d.steps, endedBy: d.endedBy, reason: d.reason });
            progress.log(
              `(e) ${Math.round(noise * 100)}% noise: ${d.steps} steps, ${d.endedBy}: ${d.reason}`,
            );
            break;
          }
          const spec = alphaSearchRuns(setup, {
            kind: 'fisher',
            lr: small,
            noise,
            steps: d.next,
            grid: [],
          }).base;
          await ensure([spec]);
          const res = store.load(spec.id);
          tries.push({
            steps: d.next,
            runId: spec.id,
            state: res.state,
            noisyAcc: finalNoisyAcc(res),
          });
        }
        if (!interrupted) await runAlphaSearch('fisher', noise, lengths[lengths.length - 1].steps);
      }
      if (!interrupted) {
        plan = buildPlan(setup, eta, { cnnEtaStar, alphaSearches, noiseLengths: lengths });
        fs.writeFileSync(
          path.join(opts.out, 'plan.json'),
          JSON.stringify(
            {
              setup,
              etaStar: plan.etaStar,
              searchResults,
              cnnEtaStar: plan.cnnEtaStar,
              cnnSearchResults: cnnResults,
              alphaSearches,
              noiseLengths: lengths,
              claims: plan.claims,
              runs: plan.runs.map((r) => r.id),
            },
            null,
            2,
          ) + '\n',
        );
        await ensure(plan.runs);
      }
    }
    progress.stop();
    if (interrupted || !plan) {
      throw new InterruptedError(
        `interrupted: ${trained.length} run(s) trained, ${skipped.length} skipped; rerun the same command to resume (finished runs are kept)`,
      );
    }
    const results: Results = {};
    for (const id of allRunIds(plan)) results[id] = store.load(id);
    const meta: ReportMeta = {
      command: opts.command,
      generatedAt: new Date().toISOString(),
      wallSeconds: ((deps.now ?? Date.now)() - t0) / 1000,
      notes: opts.notes,
    };
    const report = renderReport(plan, results, meta);
    const reportPath = path.join(opts.out, 'report.md');
    for (const [rel, text] of Object.entries(report.files)) {
      fs.mkdirSync(path.dirname(path.join(opts.out, rel)), { recursive: true });
      fs.writeFileSync(path.join(opts.out, rel), text);
    }
    fs.writeFileSync(reportPath, report.markdown);
    return {
      plan,
      results,
      analysis: analyze(plan, results),
      reportPath,
      trained,
      skipped,
      movedAside,
      interrupted,
    };
  } finally {
    progress.stop();
    deps.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * What one step of a run costs relative to an unpenalised MLP step, for the ETA: measured on this project's 2-core
 * machine, Tr(F) every 10 steps and evaluations included — torch-cpu 12 / 17 / 350 ms, wasm 45 / 62 / 1300 ms per
 * MLP / penalised MLP / SimpleCNN step: the same ratios, about 1 : 1.4 : 29, on both engines. Without them the
 * ETA averages seconds per step over runs of very different cost (off by hours once SimpleCNN runs are in).
 */
export function stepWeight(r: Pick<RunSpec, 'penalty' | 'config'>): number {
  if (r.config.model.arch !== 'mlp') return 29;
  return r.penalty !== 'none' ? 1.4 : 1;
}

/**
 * The most runs and steps the plan can take (every (e) length rule running to its budget), with the penalised
 * steps counted apart (they cost more): what `--dry-run` estimates the time from.
 */
export function planBound(s: Setup): {
  runs: number;
  steps: number;
  /** Steps weighted by {@link stepWeight}: the ETA's unit. */
  work: number;
  mlpSteps: number;
  penaltySteps: number;
  cnnSteps: number;
} {
  let runs = 0;
  let mlp = 0;
  let pen = 0;
  let cnn = 0;
  const add = (r: RunSpec) => {
    runs++;
    if (r.config.model.arch !== 'mlp') cnn += r.steps;
    else if (r.penalty !== 'none') pen += r.steps;
    else mlp += r.steps;
  };
  searchRuns(s).forEach(add);
  cnnSearchRuns(s).forEach(add);
  const eta = s.search.grid[0];
  const lens = noiseLengths(s);
  const longest = lens[lens.length - 1];
  const seen = new Set<string>(searchRuns(s).map((r) => r.id));
  const once = (r: RunSpec) => {
    if (!seen.has(r.id)) {
      seen.add(r.id);
      add(r);
    }
  };
  for (const kind of s.penalties) {
    const a = alphaSearchRuns(s, {
      kind,
      lr: eta / 10,
      noise: 0,
      steps: s.steps,
      grid: s.alphaSearch.grid,
    });
    [a.base, ...a.runs.map((r) => r.spec)].forEach(once);
  }
  for (const noise of s.noiseFractions) {
    for (const L of lens)
      once(alphaSearchRuns(s, { kind: 'fisher', lr: eta / 10, noise, steps: L, grid: [] }).base);
    alphaSearchRuns(s, {
      kind: 'fisher',
      lr: eta / 10,
      noise,
      steps: longest,
      grid: s.alphaSearch.noiseGrid,
    }).runs.forEach((r) => once(r.spec));
  }
  const plan = buildPlan(s, eta, {
    noiseLengths: s.noiseFractions.map((noise) => ({
      noise,
      tries: [],
      steps: longest,
      endedBy: 'budget' as const,
      reason: '',
    })),
  });
  plan.runs.forEach(once);
  return {
    runs,
    steps: mlp + pen + cnn,
    work:
      mlp +
      pen *
        stepWeight({ penalty: 'fisher', config: { model: { arch: 'mlp' } } as RunSpec['config'] }) +
      cnn *
        stepWeight({
          penalty: 'none',
          config: { model: { arch: 'simplecnn' } } as RunSpec['config'],
        }),
    mlpSteps: mlp,
    penaltySteps: pen,
    cnnSteps: cnn,
  };
}
