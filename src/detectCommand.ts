/**
 * `fisher-lens detect <run-dir>…`: the explosion detector's verdict for finished (or running) runs, replayed from
 * their events (src/runs/detect.ts): explosion or not, its step and size, the early peak, Tr(F_i) and what the peak
 * was compared with. Runs given together that share model and data are compared with the run at their best
 * learning rate; `--reference <run-dir>` names the reference for every run instead.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { eventValue } from './shared/format';
import { readRun, RunReadError, type RunData } from './runs/reader';
import {
  detectRuns,
  groupKey,
  referenceOf,
  replay,
  subjectOf,
  type DetectResult,
  type DetectSubject,
} from './runs/detect';

export { subjectOf };
import type { DetectorReference } from './shared/detector';

/**
 * A run folder as the detector's reference (`detect --reference`, `train --reference`): its early peak. `flag` names
 * the option in errors; `config` (optional) must have the same model and data.
 */
export function referenceFromRunDir(
  dir: string,
  flag: string,
  usageError: (msg: string) => Error,
  config?: DetectSubject['config'],
): DetectorReference & { runId: string } {
  let run: RunData;
  try {
    run = readRun(path.resolve(dir));
  } catch (e) {
    if (e instanceof RunReadError) throw usageError(`${flag}: ${e.message}`);
    throw e;
  }
  const ref = subjectOf(run);
  if (config && groupKey(config) !== groupKey(ref.config))
    throw usageError(
      `${flag}: run ${ref.id} differs from this run in model, data, optimiser or length; a reference must differ only in seed, learning rate or penalty`,
    );
  const reference = referenceOf(ref, replay(ref));
  if (!reference)
    throw usageError(
      `${flag}: run ${ref.id} has fewer than 3 Tr(F) measurements in its early phase`,
    );
  return reference;
}

/** The JSON form of one verdict (stable field names; numbers as computed). */
export function verdictJson(r: DetectResult, dir?: string) {
  const s = r.state;
  const v = r.verdict;
  return {
    runId: r.id,
    ...(dir ? { dir } : {}),
    lr: r.lr,
    penalty: r.penalty,
    explosion: v.explosion,
    step: s.explosion?.step ?? null,
    rise: v.rise,
    earlyPeak: s.earlyPeak
      ? {
          value: s.earlyPeak.value,
          step: s.earlyPeak.step,
          from: s.earlyPeak.from,
          to: s.earlyPeak.to,
          stderr: s.earlyPeak.stderr,
        }
      : null,
    trFi: s.trFi ? { value: s.trFi.value, step: s.trFi.step } : null,
    base: v.base,
    reference: r.reference
      ? { runId: r.reference.runId, lr: r.reference.lr ?? null, peak: r.reference.peak }
      : null,
    reason: v.reason,
  };
}

/** The text form of one verdict: a headline and the numbers behind it. */
export function verdictText(r: DetectResult): string {
  const s = r.state;
  const v = r.verdict;
  const head =
    v.explosion === true ? 'EXPLOSION' : v.explosion === false ? 'no explosion' : 'undecided';
  const peak = s.earlyPeak
    ? `early peak ${eventValue(s.earlyPeak.value)} at step ${s.earlyPeak.step} (mean of steps ${s.earlyPeak.from}–${s.earlyPeak.to})`
    : 'early peak –';
  const fi = s.trFi ? `Tr(F_i) ${eventValue(s.trFi.value)} at step ${s.trFi.step}` : 'Tr(F_i) –';
  const ref = r.reference
    ? `reference: run ${r.reference.runId} (lr ${r.reference.lr})`
    : 'reference: none (compared with its own start)';
  return `${r.id}: ${head}: ${v.reason}\n  ${peak}; ${fi}; ${ref}`;
}

export function registerDetectCommand(
  program: Command,
  out: { stdout(s: string): void },
  usageError: (msg: string) => Error,
): Command {
  return program
    .command('detect')
    .description(
      "the explosion detector's verdict for run folders: explosion or not, step, size, early peak, Tr(F_i) and the reference it was compared with",
    )
    .argument('<run-dir...>', 'run folders (each with config.json and events.jsonl)')
    .option('--json', 'print a JSON array instead of text')
    .option(
      '--reference <run-dir>',
      'compare every run with this run (default: the run at the best learning rate among those given with the same model and data)',
    )
    .option('--no-references', 'compare every run with its own Tr(F) at initialisation')
    .action((dirs: string[], opts: { json?: boolean; reference?: string; references: boolean }) => {
      const read = (d: string): RunData => {
        try {
          return readRun(path.resolve(d));
        } catch (e) {
          if (e instanceof RunReadError) throw usageError(e.message);
          throw e;
        }
      };
      const runs = dirs.map(read);
      const subjects = runs.map(subjectOf);
      let results: DetectResult[];
      if (opts.reference) {
        const reference = referenceFromRunDir(opts.reference, '--reference', usageError);
        results = subjects.map((s) => {
          const state = replay(s, { reference });
          return {
            id: s.id,
            lr: s.config.optimizer.lr,
            penalty: s.config.penalty?.kind ?? 'none',
            state,
            verdict: state.verdict,
            reference,
          };
        });
      } else results = detectRuns(subjects, { references: opts.references });
      if (opts.json)
        out.stdout(
          `${JSON.stringify(
            results.map((r, i) => verdictJson(r, runs[i].dir)),
            null,
            2,
          )}\n`,
        );
      else out.stdout(`${results.map(verdictText).join('\n')}\n`);
    });
}
