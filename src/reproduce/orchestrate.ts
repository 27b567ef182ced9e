/**
 * Runs a reproduction: LR search → η* → the claims' runs → report. Resumable: finished runs with the planned
 * config are skipped; unfinished ones (or ones made with another config) are moved aside and rerun. The runner
 * that trains one run is injected, so tests drive the orchestration with a fake runner.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  buildPlan,
  pickEtaStar,
  searchRuns,
  setupFor,
  type Plan,
  type ReproOptions,
  type RunSpec,
} from './plan';
import { renderReport, type ReportMeta } from './report';
import { createReproProgress, type ReproProgress } from './progress';
import { finalTestAcc, type Results } from './results';
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

  const search = searchRuns(setup);
  // The number of claim runs does not depend on η*: lay out a provisional plan for the progress totals.
  const provisional = buildPlan(setup, setup.search.grid[0]);
  const all = [...search, ...provisional.runs];
  progress.start(
    all.length,
    all.reduce((a, r) => a + r.steps, 0),
  );

  const trained: string[] = [];
  const skipped: string[] = [];
  const movedAside: string[] = [];
  let interrupted = false;

  const ensure = async (specs: RunSpec[]) => {
    for (const spec of specs) {
      if (ac.signal.aborted) {
        interrupted = true;
        return;
      }
      const st = store.state(spec.id);
      const d = decide(st, st === 'absent' ? null : store.config(spec.id), spec.config);
      if (d.action === 'skip') {
        skipped.push(spec.id);
        progress.skipped(spec.id, spec.steps);
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
      progress.runStarted(spec.id, spec.steps);
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
    if (!interrupted) {
      const searchResults = search.map((r) => {
        const res = store.load(r.id);
        return { lr: r.lr, state: res.state, finalTestAcc: finalTestAcc(res) };
      });
      const eta = pickEtaStar(searchResults);
      plan = buildPlan(setup, eta);
      fs.writeFileSync(
        path.join(opts.out, 'plan.json'),
        JSON.stringify(
          {
            setup,
            etaStar: plan.etaStar,
            searchResults,
            claims: plan.claims,
            runs: plan.runs.map((r) => r.id),
          },
          null,
          2,
        ) + '\n',
      );
      progress.log(
        `η* = ${plan.etaStar} (LR search: ${searchResults.map((s) => `${s.lr} → ${s.finalTestAcc === null ? s.state : (100 * s.finalTestAcc).toFixed(2) + '%'}`).join(', ')})`,
      );
      await ensure(plan.runs);
    }
    progress.stop();
    if (interrupted || !plan) {
      throw new InterruptedError(
        `interrupted: ${trained.length} run(s) trained, ${skipped.length} skipped; rerun the same command to resume (finished runs are kept)`,
      );
    }
    const results: Results = {};
    for (const id of new Set([...search.map((r) => r.id), ...plan.runs.map((r) => r.id)]))
      results[id] = store.load(id);
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
