/**
 * The reproduction's view of its runs directory: which planned runs are already finished (skipped on a rerun),
 * which exist but are unfinished or were made with a different config (moved aside into `<out>/aside/`, never
 * deleted and never mixed into the results), and loading a finished run's result.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUN_FILES, type RunSummary } from '../shared/protocol';
import { jsonEqual } from '../shared/configDiff';
import { parseEventLines } from '../runs/events';
import { missingResult, resultFromEvents, type RunResult } from './results';

export interface RunStore {
  readonly runsRoot: string;
  /** `absent`, or the run's state (`completed`, `running`, `failed`, …; `unknown` if unreadable). */
  state(id: string): string;
  /** The run's stored config.json, or null. */
  config(id: string): unknown | null;
  /** Move the run directory out of the runs root; returns where it went. */
  moveAside(id: string, why: string): string;
  /** Load a run's result (a placeholder when absent). */
  load(id: string): RunResult;
  /** Pid of a live process on this host that status.json says is running the run, else null. */
  liveOwner(id: string): number | null;
}

const readJson = (file: string): unknown | null => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
};

/** The store of `<out>`: runs in `<out>/runs/`, moved-aside runs in `<out>/aside/`. */
export function fsStore(out: string): RunStore {
  const runsRoot = path.join(out, 'runs');
  const asideRoot = path.join(out, 'aside');
  const dir = (id: string) => path.join(runsRoot, id);
  const summaryOf = (id: string) =>
    readJson(path.join(dir(id), RUN_FILES.summary)) as Partial<RunSummary> | null;
  const state = (id: string): string => {
    if (!fs.existsSync(dir(id))) return 'absent';
    // summary.json is written last and only when the run ends: it is the authority for a finished run.
    const sum = summaryOf(id);
    if (sum && typeof sum.state === 'string') return sum.state;
    const st = readJson(path.join(dir(id), RUN_FILES.status)) as { state?: unknown } | null;
    return st && typeof st.state === 'string'
      ? st.state === 'completed'
        ? 'unknown'
        : st.state
      : 'unknown';
  };
  return {
    runsRoot,
    state,
    config: (id) => readJson(path.join(dir(id), RUN_FILES.config)),
    moveAside(id, why) {
      fs.mkdirSync(asideRoot, { recursive: true });
      const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
      let target = path.join(asideRoot, `${id}-${stamp}`);
      for (let k = 2; fs.existsSync(target); k++)
        target = path.join(asideRoot, `${id}-${stamp}-${k}`);
      fs.renameSync(dir(id), target);
      fs.writeFileSync(path.join(target, 'MOVED_ASIDE.txt'), `${why}\n`);
      return target;
    },
    liveOwner(id) {
      const st = readJson(path.join(dir(id), RUN_FILES.status)) as {
        state?: string;
        pid?: number | null;
        host?: string;
      } | null;
      if (
        !st ||
        (st.state !== 'running' && st.state !== 'queued') ||
        typeof st.pid !== 'number' ||
        st.host !== os.hostname()
      )
        return null;
      if (st.pid === process.pid) return null;
      try {
        process.kill(st.pid, 0);
        return st.pid;
      } catch {
        return null;
      }
    },
    load(id) {
      const st = state(id);
      if (st === 'absent') return missingResult(id);
      let text = '';
      try {
        text = fs.readFileSync(path.join(dir(id), RUN_FILES.events), 'utf8');
      } catch {
        return missingResult(id, st);
      }
      const { events } = parseEventLines(text, 1, true);
      const cfg = readJson(path.join(dir(id), RUN_FILES.config)) as Parameters<
        typeof resultFromEvents
      >[4];
      return resultFromEvents(id, st, events, summaryOf(id), cfg);
    },
  };
}

/** What to do with a planned run given what the store holds. */
export type Decision = { action: 'skip' } | { action: 'run' } | { action: 'rerun'; why: string };

/** States that are a result: a completed run, or one that diverged (a deterministic outcome, e.g. in the LR search). */
export const FINAL_STATES = ['completed', 'diverged'];

/** Pure decision for one planned run: skip a finished run with the same config; rerun (after moving aside) the rest. */
export function decide(state: string, storedConfig: unknown, plannedConfig: unknown): Decision {
  if (state === 'absent') return { action: 'run' };
  if (!FINAL_STATES.includes(state))
    return { action: 'rerun', why: `found unfinished run (state ${state})` };
  if (!jsonEqual(storedConfig, plannedConfig))
    return { action: 'rerun', why: 'found a finished run made with a different config' };
  return { action: 'skip' };
}
