/**
 * `--launcher local`: a sweep's runs trained on this machine, at most `maxParallel` at a time, each by its own
 * `fisher-lens train` child process (as the editor launches runs) from its queued run folder. This process owns the
 * queued folders (pid + heartbeat), so a sweep killed before they start leaves them `failed`, not queued forever.
 * Ctrl-C: running runs are asked to stop after their step (SIGINT), waiting ones are marked stopped.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { RUN_FILES } from '../shared/protocol';
import { beatQueuedStatus, settleExitedRun } from '../runs/statusFixups';
import { sweepDir, type Sweep, type SweepRun } from './expand';
import { prepareRun, stopQueuedRun } from './launch';

/** Heartbeat of the queued folders this process holds (seconds). */
const QUEUED_HEARTBEAT_S = 10;

export interface LocalResult {
  /** Final state by run id (`completed`, `failed`, `stopped`, …; as status.json says after the run). */
  states: Map<string, string>;
  interrupted: boolean;
}

export async function runLocal(
  sweep: Sweep,
  runs: SweepRun[],
  o: {
    node: string;
    cli: string;
    maxParallel: number;
    signal?: AbortSignal;
    onStart?: (run: SweepRun) => void;
    onDone?: (run: SweepRun, state: string) => void;
  },
): Promise<LocalResult> {
  const logDir = path.join(sweepDir(sweep.runsRoot, sweep.name), 'logs');
  const files = new Map(runs.map((r) => [r.id, prepareRun(sweep, r)]));
  const dirOf = (r: SweepRun) => path.join(sweep.runsRoot, r.id);
  for (const r of runs) beatQueuedStatus(dirOf(r), true, QUEUED_HEARTBEAT_S);
  const waiting = [...runs];
  const timer = setInterval(() => {
    for (const r of waiting) beatQueuedStatus(dirOf(r), false, QUEUED_HEARTBEAT_S);
  }, QUEUED_HEARTBEAT_S * 1000);
  timer.unref();
  const states = new Map<string, string>();
  const children = new Set<import('node:child_process').ChildProcess>();
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    for (const r of waiting.splice(0)) {
      stopQueuedRun(sweep.runsRoot, r.id, 'the sweep was interrupted before this run started');
      states.set(r.id, 'stopped');
    }
    for (const c of children) c.kill('SIGINT');
  };
  o.signal?.addEventListener('abort', onAbort);

  const one = (r: SweepRun) =>
    new Promise<void>((resolve) => {
      const log = fs.openSync(path.join(logDir, `${r.id}.log`), 'a');
      o.onStart?.(r);
      const child = spawn(
        o.node,
        [
          o.cli,
          'train',
          files.get(r.id)!,
          '--runs-dir',
          sweep.runsRoot,
          '--run-id',
          r.id,
          '--quiet',
        ],
        { stdio: ['ignore', log, 'pipe'] },
      );
      children.add(child);
      let tail = '';
      child.stderr!.on('data', (b: Buffer) => {
        fs.writeSync(log, b);
        tail = (tail + b.toString('utf8')).slice(-4000);
      });
      let finished = false;
      const done = (code: number | null, sig: NodeJS.Signals | null) => {
        if (finished) return;
        finished = true;
        children.delete(child);
        fs.closeSync(log);
        settleExitedRun(dirOf(r), {
          code,
          signal: sig,
          stderrTail: tail,
          stopRequested: interrupted,
        });
        let state = 'failed';
        try {
          state = JSON.parse(fs.readFileSync(path.join(dirOf(r), 'status.json'), 'utf8')).state;
        } catch {
          /* failed */
        }
        states.set(r.id, state);
        o.onDone?.(r, state);
        resolve();
      };
      child.on('error', (e) => {
        tail += `\n${e.message}`;
        done(null, null);
      });
      child.on('close', done);
    });

  // `sweep cancel` (another process) asks a waiting run to stop with its STOP file: it ends `stopped` here
  // without being started (no data loaded, no final measurement).
  const cancelledWhileWaiting = (r: SweepRun) => {
    if (!fs.existsSync(path.join(dirOf(r), RUN_FILES.stop))) return false;
    stopQueuedRun(sweep.runsRoot, r.id, 'cancelled before it started (sweep cancel)');
    states.set(r.id, 'stopped');
    o.onDone?.(r, 'stopped');
    return true;
  };
  const workers = Array.from({ length: Math.max(1, o.maxParallel) }, async () => {
    for (let r = waiting.shift(); r; r = waiting.shift())
      if (!cancelledWhileWaiting(r)) await one(r);
  });
  try {
    await Promise.all(workers);
  } finally {
    clearInterval(timer);
    o.signal?.removeEventListener('abort', onAbort);
  }
  return { states, interrupted };
}
