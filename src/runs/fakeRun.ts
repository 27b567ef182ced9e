/**
 * Synthetic runs for UI work and tests: a run directory that looks like the trainer's (config, events with a
 * Fisher explosion, status, summary; the events from `src/shared/fakeRunEvents.ts`), written at once or replayed
 * live with delays, so the panels, the tree and notifications can be developed and tested without training.
 * Node only (fs); no vscode, no tfjs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RUN_FILES, type RunEvent, type RunState, type RunStatus } from '../shared/protocol';
import {
  fakeConfig,
  fakeRunEvents,
  fakeSummary,
  type FakeRunOptions,
} from '../shared/fakeRunEvents';

export {
  fakeConfig,
  fakeRunEvents,
  fakeSummary,
  type FakeRunOptions,
} from '../shared/fakeRunEvents';

function writeStatus(dir: string, st: RunStatus) {
  const tmp = path.join(dir, `.${RUN_FILES.status}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, JSON.stringify(st, null, 2));
  fs.renameSync(tmp, path.join(dir, RUN_FILES.status));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Write a fake run under `runsDir/<runId>/`. With `replayMs` > 0 the events are appended in chunks of
 * `chunkSteps` steps every `replayMs` ms with status `running` (pid = this process) until the end, and a
 * `STOP` file in the run directory stops it early with state `stopped`. Returns the run directory.
 */
export async function writeFakeRun(
  runsDir: string,
  o: FakeRunOptions,
  replay: { replayMs?: number; chunkSteps?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const dir = path.join(runsDir, o.runId);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, RUN_FILES.config), JSON.stringify(fakeConfig(o), null, 2));
  const events = fakeRunEvents(o);
  const steps = o.steps ?? 600;
  const started = new Date(o.t0 ?? Date.now()).toISOString();
  const status = (state: RunState, step: number): RunStatus => ({
    runId: o.runId,
    state,
    step,
    totalSteps: steps,
    pid: state === 'running' ? process.pid : null,
    host: os.hostname(),
    startedAt: started,
    updatedAt: new Date().toISOString(),
  });
  const evPath = path.join(dir, RUN_FILES.events);
  const line = (e: RunEvent) => JSON.stringify(e) + '\n';
  if (!replay.replayMs) {
    fs.writeFileSync(evPath, events.map(line).join(''));
    writeStatus(dir, status(o.finalState ?? 'completed', steps));
    fs.writeFileSync(
      path.join(dir, RUN_FILES.summary),
      JSON.stringify(fakeSummary(o, events), null, 2),
    );
    return dir;
  }
  fs.writeFileSync(evPath, '');
  writeStatus(dir, status('running', 0));
  const chunk = replay.chunkSteps ?? 20;
  const body = events.slice(0, -1);
  let i = 0;
  let upTo = 0;
  let final: RunState = o.finalState ?? 'completed';
  while (i < body.length) {
    upTo += chunk;
    let text = '';
    while (i < body.length && !('step' in body[i] && (body[i] as { step: number }).step > upTo))
      text += line(body[i++]);
    fs.appendFileSync(evPath, text);
    writeStatus(dir, status('running', Math.min(upTo, steps)));
    if (fs.existsSync(path.join(dir, RUN_FILES.stop)) || replay.signal?.aborted) {
      final = 'stopped';
      break;
    }
    await sleep(replay.replayMs);
  }
  const lastStep = Math.min(upTo, steps);
  fs.appendFileSync(evPath, line({ type: 'status', t: Date.now(), step: lastStep, state: final }));
  writeStatus(dir, status(final, lastStep));
  const done = events.slice(0, i);
  fs.writeFileSync(
    path.join(dir, RUN_FILES.summary),
    JSON.stringify({ ...fakeSummary({ ...o, finalState: final }, done), steps: lastStep }, null, 2),
  );
  return dir;
}
