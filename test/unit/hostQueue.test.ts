/**
 * Queued runs survive a window reload: the launcher keeps its queue in the workspace's state; the next launcher
 * (the reloaded window) takes the placeholders over once their old holder is gone and starts them in order.
 * Runs the real Launcher against the fake `vscode` and the stand-in trainer CLI.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { installFakeVscode } from './helpers/fakeVscode';
import { sleep, until } from './helpers/wait';

installFakeVscode();

const { Launcher } = require('../../src/host/launcher') as typeof import('../../src/host/launcher');
const { presetConfig, PRESETS } =
  require('../../src/shared/presets') as typeof import('../../src/shared/presets');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-queue-'));
const runs = path.join(tmp, 'runs');
const extDir = path.join(tmp, 'ext');
const cliLog = path.join(tmp, 'cli.jsonl');
fs.mkdirSync(path.join(extDir, 'dist'), { recursive: true });
fs.copyFileSync(path.join(__dirname, 'helpers', 'fakeCli.js'), path.join(extDir, 'dist', 'cli.js'));
process.env.FAKE_CLI_LOG = cliLog;

const settings = () => ({
  runsDirectory: runs,
  backend: 'auto' as const,
  nodePath: process.execPath,
  pythonPath: '',
  maxConcurrentRuns: 1,
  presetOverrides: {},
});
class Memento {
  readonly data = new Map<string, unknown>();
  get<T>(k: string): T | undefined {
    return this.data.get(k) as T | undefined;
  }
  update(k: string, v: unknown) {
    this.data.set(k, JSON.parse(JSON.stringify(v)));
    return Promise.resolve();
  }
}
const status = (id: string) =>
  JSON.parse(fs.readFileSync(path.join(runs, id, 'status.json'), 'utf8'));
const started = () =>
  fs.existsSync(cliLog)
    ? fs
        .readFileSync(cliLog, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const a = JSON.parse(l).args as string[];
          return a[a.indexOf('--run-id') + 1];
        })
    : [];
const config = presetConfig(PRESETS[0], {
  dataset: { name: 'synthetic', trainSize: 512, testSize: 64 },
  schedule: { steps: 30 },
});
const launchers: InstanceType<typeof Launcher>[] = [];
const newLauncher = (m?: Memento) => {
  const l = new Launcher(extDir, settings, () => tmp, m);
  launchers.push(l);
  return l;
};

after(async () => {
  for (const l of launchers) l.dispose();
  await sleep(200);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('queued runs survive a reload: kept, taken over when the old holder is gone, started in order', async () => {
  process.env.FAKE_CLI_STEPS = '100000'; // runs until stopped
  process.env.FAKE_CLI_MS = '20';
  const memento = new Memento();
  const a = newLauncher(memento);
  const ids = ['20261129-020000-first', '20261129-020001-second', '20261129-020002-third'];
  for (const runId of ids) a.launch({ runId, source: { kind: 'config', config }, totalSteps: 30 });
  await until(() => status(ids[0]).state === 'running', 'first running');
  assert.deepEqual(
    (memento.get('fisherLens.queuedRuns') as { runId: string }[]).map((q) => q.runId),
    ids.slice(1),
  );

  // The window goes (reload): the running trainer goes on; the queued placeholders stay queued.
  a.dispose();
  assert.equal(status(ids[1]).state, 'queued');
  assert.equal(status(ids[2]).state, 'queued');

  // The old holder is still alive (its process closing): the new window waits for it.
  const holder = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], {
    stdio: 'ignore',
  });
  await until(() => holder.pid, 'holder started');
  for (const id of ids.slice(1)) {
    const f = path.join(runs, id, 'status.json');
    fs.writeFileSync(f, JSON.stringify({ ...status(id), pid: holder.pid }));
  }
  const b = newLauncher(memento);
  assert.deepEqual(b.resumeQueue(), []);
  assert.equal(status(ids[1]).state, 'queued');
  assert.equal(b.displayState(ids[1]), undefined);
  holder.kill('SIGKILL');
  // Taken over once the holder is gone (the launcher looks again by itself), in the order queued; the old
  // window's run still trains and holds the one slot (maxConcurrentRuns 1): nothing starts yet.
  await until(
    () => b.displayState(ids[2]) === 'queued' && b.displayState(ids[1]) === 'queued',
    'queue taken over',
  );
  assert.equal(status(ids[1]).pid, process.pid, 'the new window holds the second');
  assert.equal(status(ids[0]).state, 'running');
  assert.deepEqual(started(), ids.slice(0, 1), 'the limit holds across the reload');
  assert.deepEqual(
    (memento.get('fisherLens.startedRuns') as { runId: string }[]).map((q) => q.runId),
    [ids[0]],
    "the earlier window's run is remembered as holding a slot",
  );

  // The old window's run ends (STOP file): the second starts then, not before.
  b.stop(ids[0], path.join(runs, ids[0]), runs);
  await until(() => status(ids[1]).state === 'running', 'second started');
  assert.equal(status(ids[0]).state, 'stopped', 'the first ended before the second started');
  assert.equal(status(ids[1]).pid !== process.pid, true, 'the trainer, not the window, holds it');
  assert.equal(status(ids[2]).state, 'queued');
  assert.equal(status(ids[2]).pid, process.pid, 'the new window holds the third');
  assert.deepEqual(started(), ids.slice(0, 2));
  assert.deepEqual(
    (memento.get('fisherLens.queuedRuns') as { runId: string }[]).map((q) => q.runId),
    [ids[2]],
  );
  // The new window's own queue moves on after its own run.
  b.stop(ids[1], undefined);
  await until(() => status(ids[1]).state === 'stopped', 'second stopped');
  await until(() => status(ids[2]).state === 'running', 'third started');
  b.stop(ids[2], undefined);
  await until(() => status(ids[2]).state === 'stopped', 'third stopped');
  await until(() => status(ids[0]).state === 'stopped', 'first stopped');
  assert.deepEqual(memento.get('fisherLens.queuedRuns'), []);
  assert.deepEqual(started(), ids);
});

test("a run queued after a reload behind the earlier window's run starts when that run ends", async () => {
  process.env.FAKE_CLI_STEPS = '100000';
  process.env.FAKE_CLI_MS = '20';
  const memento = new Memento();
  const a = newLauncher(memento);
  const [x, y] = ['20261129-030000-earlier', '20261129-030001-later'];
  a.launch({ runId: x, source: { kind: 'config', config }, totalSteps: 30 });
  await until(() => status(x).state === 'running', 'earlier running');
  await until(
    () => (memento.get('fisherLens.startedRuns') as { runId: string }[] | undefined)?.length === 1,
    'the started run remembered',
  );
  a.dispose(); // reload: the trainer goes on
  const b = newLauncher(memento);
  assert.deepEqual(b.resumeQueue(), []);
  b.launch({ runId: y, source: { kind: 'config', config }, totalSteps: 30 });
  assert.equal(b.displayState(y), 'queued', "the one slot is the earlier run's");
  assert.equal(status(y).state, 'queued');
  b.stop(x, path.join(runs, x), runs);
  await until(() => status(y).state === 'running', 'later started');
  assert.equal(status(x).state, 'stopped', 'the earlier run ended first');
  b.stop(y, undefined);
  await until(() => status(y).state === 'stopped', 'later stopped');
});

test('a run queued after another (its explosion reference) keeps waiting for it, and its config file, across a reload', async () => {
  process.env.FAKE_CLI_STEPS = '100000';
  process.env.FAKE_CLI_MS = '20';
  const memento = new Memento();
  const a = newLauncher(memento);
  const [ref, dep] = ['20261129-030000-ref', '20261129-030001-after'];
  a.launch({ runId: ref, source: { kind: 'config', config }, totalSteps: 30 });
  const userFile = path.join(tmp, 'mine.fisher.json');
  a.launch({
    runId: dep,
    source: { kind: 'config', config },
    totalSteps: 30,
    after: ref,
    configFile: userFile,
  });
  await until(() => status(ref).state === 'running', 'reference running');
  assert.deepEqual(
    (memento.get('fisherLens.queuedRuns') as { runId: string; after?: string }[]).map((q) => [
      q.runId,
      q.after,
    ]),
    [[dep, ref]],
  );
  a.dispose();
  const b = newLauncher(memento);
  assert.deepEqual(b.resumeQueue(), [dep]);
  assert.equal(b.get(dep)?.after, ref, 'the dependency is kept');
  assert.equal(b.get(dep)?.configFile, userFile, "the user's config file is kept (its Problems)");
  assert.equal(status(dep).state, 'queued');
  b.stop(ref, path.join(runs, ref), runs);
  await until(() => status(dep).state === 'running', 'started once the reference ended');
  assert.equal(status(ref).state, 'stopped');
  b.stop(dep, undefined);
  await until(() => status(dep).state === 'stopped', 'stopped');
});

test('without a place to keep the queue, a closing window marks its queued runs failed with the reason', async () => {
  process.env.FAKE_CLI_STEPS = '100000';
  const a = newLauncher();
  const ids = ['20261129-030000-only', '20261129-030001-waits'];
  for (const runId of ids) a.launch({ runId, source: { kind: 'config', config }, totalSteps: 30 });
  await until(() => status(ids[0]).state === 'running', 'first running');
  a.dispose();
  assert.equal(status(ids[1]).state, 'failed');
  assert.match(status(ids[1]).error, /never started: the VS Code window that queued it was closed/);
  a.stop(ids[0], path.join(runs, ids[0]), runs);
  await until(() => status(ids[0]).state === 'stopped', 'first stopped');
});

test('a saved queue entry whose placeholder was stopped, removed or started meanwhile is forgotten', () => {
  const memento = new Memento();
  void memento.update('fisherLens.queuedRuns', [
    { runId: 'nope', runsDir: runs, queuedAt: 1 },
    { runId: '../escape', runsDir: runs, queuedAt: 2 },
    { runId: 42, runsDir: runs, queuedAt: 3 },
  ]);
  const b = newLauncher(memento);
  assert.deepEqual(b.resumeQueue(), []);
  assert.deepEqual(memento.get('fisherLens.queuedRuns'), []);
});

test('a trainer that dies with a stack trace: the reason is the error line, not the last stack frame', async () => {
  const { reportTrainerExit } =
    require('../../src/host/trainerExit') as typeof import('../../src/host/trainerExit');
  const { fake } = require('./helpers/fakeVscode') as typeof import('./helpers/fakeVscode');
  const stderr = [
    'Error: ENOSPC: no space left on device, write',
    '    at Object.writeSync (node:fs:927:3)',
    '    at async _se (/ext/dist/cli.js:8637:839)',
    '',
    'Node.js v20.20.2',
    '',
  ].join('\n');
  process.env.FAKE_CLI_EXIT = '1';
  process.env.FAKE_CLI_STDERR = stderr;
  try {
    const a = newLauncher();
    const exited = new Promise<import('../../src/host/launcher').LaunchOutcome>((r) =>
      a.onDidExit(r),
    );
    a.launch({
      runId: '20261129-040000-crash',
      source: { kind: 'config', config },
      totalSteps: 30,
    });
    const o = await exited;
    assert.equal(o.code, 1);
    const st = status('20261129-040000-crash');
    assert.equal(st.state, 'failed');
    assert.equal(
      st.error,
      'trainer exited with code 1: Error: ENOSPC: no space left on device, write',
    );
    fake.reset();
    reportTrainerExit(o, () => undefined);
    assert.equal(
      fake.messages.at(-1)?.text,
      'Fisher Lens: 20261129-040000-crash failed: Error: ENOSPC: no space left on device, write',
    );
    // A reason the run recorded itself (status.json) comes first.
    reportTrainerExit(o, () => undefined, 'out of memory in fisher.trace\n  at …');
    assert.equal(
      fake.messages.at(-1)?.text,
      'Fisher Lens: 20261129-040000-crash failed: out of memory in fisher.trace',
    );
  } finally {
    delete process.env.FAKE_CLI_EXIT;
    delete process.env.FAKE_CLI_STDERR;
  }
});
