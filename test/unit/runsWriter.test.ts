import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { RunRecorder } from '../../src/runs/recorder';
import {
  RunExistsError,
  RunWriteError,
  UnsafeRunDirError,
  writeFaults,
  writeJsonAtomic,
  writeQueuedRun,
} from '../../src/runs/writer';
import { readRun, listRuns, RunReadError, effectiveState } from '../../src/runs/reader';
import { makeRunId, slugify } from '../../src/runs/runId';
import type { RunStatus } from '../../src/shared/protocol';
import os from 'node:os';
import { tmpDir, testConfig, testHeader, fakeClock, waitFor, SRC } from './runsHelpers';

const lines = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

test('writer → reader round trip', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const cfg = testConfig();
  const w = RunRecorder.create(root, '20261127-214826-small-lr', cfg, testHeader(), {
    now: clock.now,
    timer: false,
    jobId: '42',
  });
  for (let s = 1; s <= 100; s++) {
    clock.advance(100); // 10 steps/s: nothing throttled
    w.append({
      type: 'step',
      step: s,
      epoch: s / 8,
      loss: 2.3 - s / 50,
      lr: 0.001,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 320,
    });
    if (s % 10 === 0)
      w.append({
        type: 'fisher',
        step: s,
        epoch: s / 8,
        trF: 10 + s,
        trFStderr: 1,
        probeSize: 16,
        trFB: null,
        ms: 5,
      });
    if (s % 50 === 0)
      w.append({
        type: 'eval',
        step: s,
        epoch: s / 8,
        testLoss: 1,
        testAcc: s === 50 ? 0.8 : 0.7,
        trainLoss: 1,
        trainAcc: 0.9,
        cleanLoss: null,
        cleanAcc: null,
        noisyLoss: null,
        noisyAcc: null,
      });
  }
  w.append({ type: 'log', level: 'info', message: 'hello' });
  const summary = w.finish('completed', null, { finalTestAcc: 0.7 });

  const r = readRun(w.dir);
  assert.deepEqual(r.config, cfg);
  assert.equal(r.header!.runId, '20261127-214826-small-lr');
  assert.equal(r.header!.schemaVersion, 1);
  assert.equal(r.header!.pid, process.pid);
  assert.equal(r.header!.backendRejections[0].reason, 'not installed');
  assert.equal(r.byType.step.length, 100);
  assert.equal(r.byType.fisher.length, 10);
  assert.equal(r.byType.eval.length, 2);
  assert.equal(r.byType.log[0].message, 'hello');
  assert.deepEqual(
    r.byType.status.map((s) => s.state),
    ['running', 'completed'],
  );
  assert.equal(r.status!.state, 'completed');
  assert.equal(r.status!.jobId, '42');
  assert.equal(r.status!.step, 100);
  assert.equal(r.state, 'completed');
  assert.equal(r.summary!.state, 'completed');
  assert.deepEqual(r.summary, summary);
  assert.equal(summary.bestTestAcc, 0.8);
  assert.equal(summary.finalTestAcc, 0.7);
  assert.equal(summary.maxTrF, 110);
  assert.equal(summary.finalTrF, 110);
  assert.equal(summary.steps, 100);
  assert.ok(Math.abs(summary.wallSeconds - 10) < 1e-9);
  assert.equal(summary.lossThreshold, 1);
  assert.equal(summary.trFiStep !== null, true, 'loss crossed ε = 1 (smoothed) before step 100');
  assert.deepEqual(r.corruptLines, []);
  assert.equal(r.tornTail, false);
  assert.deepEqual(fs.readdirSync(w.dir).sort(), [
    'config.json',
    'events.jsonl',
    'status.json',
    'summary.json',
  ]);
  assert.throws(
    () => w.append({ type: 'log', level: 'info', message: 'late' }),
    /already finished/,
  );
});

test('throttling keeps every fisher event and the last step; the summary sees every step', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunRecorder.create(root, 'throttle', testConfig(), testHeader(), {
    now: clock.now,
    timer: false,
  });
  for (let s = 0; s < 1000; s++) {
    clock.advance(1); // 1000 steps/s
    w.append({
      type: 'step',
      step: s,
      epoch: s / 8,
      loss: 3 - s / 1000,
      lr: 0.1,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 1,
    });
    if (s % 10 === 0)
      w.append({
        type: 'fisher',
        step: s,
        epoch: s / 8,
        trF: s,
        trFStderr: 0,
        probeSize: 16,
        trFB: 1,
        ms: 1,
      });
  }
  const summary = w.finish('stopped');
  const ev = lines(w.dir);
  const steps = ev.filter((e) => e.type === 'step');
  const fisher = ev.filter((e) => e.type === 'fisher');
  assert.equal(fisher.length, 100, 'no fisher event dropped');
  assert.deepEqual(
    fisher.map((e) => e.step),
    Array.from({ length: 100 }, (_, i) => i * 10),
  );
  // ≤ 20/s, plus at most one held-back step written ahead of each fisher line (step order).
  assert.ok(steps.length <= 1000 / 50 + fisher.length + 2, `${steps.length} step events for 1 s`);
  assert.ok(steps.length >= 15, `${steps.length} step events: throttled, not starved`);
  assert.equal(steps.at(-1).step, 999, 'last step written');
  assert.equal(ev.at(-1).type, 'status');
  assert.equal(ev.at(-2).step, 999, 'last step flushed before the terminal status');
  for (let i = 1; i < steps.length; i++) assert.ok(steps[i].step > steps[i - 1].step);
  assert.equal(summary.finalTrainLoss, 3 - 999 / 1000);
  assert.equal(summary.state, 'stopped');
});

test('a held-back step is written by the timer while the trainer is idle', async () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'idle', testConfig(), testHeader(), {
    stepIntervalMs: 50,
    flushIntervalMs: 20,
  });
  w.append({
    type: 'step',
    step: 1,
    epoch: 0,
    loss: 1,
    lr: 1,
    penalty: null,
    gradNorm: 1,
    examplesPerSec: 1,
  });
  w.append({
    type: 'step',
    step: 2,
    epoch: 0,
    loss: 1,
    lr: 1,
    penalty: null,
    gradNorm: 1,
    examplesPerSec: 1,
  });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(
    lines(w.dir)
      .filter((e) => e.type === 'step')
      .map((e) => e.step),
    [1, 2],
  );
  w.finish('completed');
});

test('never overwrites a run; adopts a queued placeholder; run ids', () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'r1', testConfig(), testHeader(), { timer: false });
  w.finish('completed');
  const before = fs.readFileSync(path.join(w.dir, 'events.jsonl'), 'utf8');
  assert.throws(
    () => RunRecorder.create(root, 'r1', testConfig(), testHeader()),
    (e: Error) =>
      e instanceof RunExistsError &&
      e.message.includes(path.join(root, 'r1')) &&
      /refusing to overwrite/.test(e.message),
  );
  assert.equal(fs.readFileSync(path.join(w.dir, 'events.jsonl'), 'utf8'), before, 'untouched');
  fs.mkdirSync(path.join(root, 'other'));
  fs.writeFileSync(path.join(root, 'other', 'notes.txt'), 'x');
  assert.throws(
    () => RunRecorder.create(root, 'other', testConfig(), testHeader()),
    RunExistsError,
  );
  fs.mkdirSync(path.join(root, 'empty'));
  RunRecorder.create(root, 'empty', testConfig(), testHeader(), { timer: false }).finish(
    'completed',
  );
  assert.throws(
    () => RunRecorder.create(root, '../escape', testConfig(), testHeader()),
    /invalid run id/,
  );

  // A launcher's queued placeholder is adopted, keeping its job id; a second queue of the same id is refused.
  writeQueuedRun(root, 'queued', testConfig(), { jobId: '777' });
  assert.equal(listRuns(root).find((r) => r.id === 'queued')!.state, 'queued');
  assert.throws(() => writeQueuedRun(root, 'queued', testConfig()), RunExistsError);
  const q = RunRecorder.create(root, 'queued', testConfig(), testHeader(), { timer: false });
  assert.equal(readRun(q.dir).status!.jobId, '777');
  assert.equal(readRun(q.dir).status!.state, 'running');
  q.finish('completed');

  const d = new Date(2026, 10, 27, 21, 48, 26);
  assert.equal(makeRunId('small lr', d), '20261127-214826-small-lr');
  assert.equal(makeRunId('/x/y/Small LR (η*÷10).fisher.json', d), '20261127-214826-small-lr-10');
  assert.equal(slugify('   '), 'run');
  assert.equal(slugify('../../etc/passwd'), 'passwd');
  fs.mkdirSync(path.join(root, '20261127-214826-small-lr'));
  fs.mkdirSync(path.join(root, '20261127-214826-small-lr-2'));
  assert.equal(makeRunId('small-lr.fisher.json', d, root), '20261127-214826-small-lr-3');
  const u = RunRecorder.createUnique(root, 'small lr', testConfig(), testHeader(), {
    date: d,
    timer: false,
  });
  assert.equal(u.runId, '20261127-214826-small-lr-3');
  u.finish('completed');
});

test('reader: torn last line skipped, corrupt middle line counted, errors name the file', () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'torn', testConfig(), testHeader(), { timer: false });
  w.append({
    type: 'fisher',
    step: 1,
    epoch: 0,
    trF: 1,
    trFStderr: 0,
    probeSize: 16,
    trFB: null,
    ms: 1,
  });
  w.close();
  const ev = path.join(w.dir, 'events.jsonl');
  fs.appendFileSync(ev, '{"type":"fisher","t":1,"st\n'); // corrupt line 4
  fs.appendFileSync(
    ev,
    JSON.stringify({
      type: 'fisher',
      t: 2,
      step: 2,
      epoch: 0,
      trF: 2,
      trFStderr: 0,
      probeSize: 16,
      trFB: null,
      ms: 1,
    }) + '\n',
  );
  fs.appendFileSync(ev, JSON.stringify({ type: 'future-kind', t: 3 }) + '\n'); // unknown type: skipped, not corrupt
  fs.appendFileSync(ev, '{"type":"fisher","t":3,"step":3,"epo'); // torn
  const r = readRun(w.dir, { isAlive: () => false });
  assert.deepEqual(
    r.byType.fisher.map((e) => e.step),
    [1, 2],
  );
  assert.deepEqual(r.corruptLines, [4]);
  assert.equal(r.tornTail, true);
  assert.equal(r.state, 'failed', 'closed without finishing and the process is gone');
  assert.match(r.stale!, /exited without finishing/);
  assert.equal(readRun(w.dir, { isAlive: () => true }).state, 'running');

  // A complete last line without its newline is accepted by a one-shot read.
  fs.appendFileSync(ev, 'ch":0,"trF":3,"trFStderr":0,"probeSize":16,"trFB":null,"ms":1}');
  const r2 = readRun(w.dir, { isAlive: () => false });
  assert.deepEqual(
    r2.byType.fisher.map((e) => e.step),
    [1, 2, 3],
  );
  assert.equal(r2.tornTail, false);

  const err = (f: () => unknown, file: string, re: RegExp) =>
    assert.throws(
      f,
      (e: Error) =>
        e instanceof RunReadError &&
        e.message.startsWith(path.join(w.dir, file)) &&
        re.test(e.message),
      `${file} ${re}`,
    );
  fs.writeFileSync(path.join(w.dir, 'status.json'), '{"state": "runn');
  err(() => readRun(w.dir), 'status.json', /not valid JSON/);
  fs.rmSync(path.join(w.dir, 'status.json'));
  const header = JSON.parse(fs.readFileSync(ev, 'utf8').split('\n')[0]);
  fs.writeFileSync(ev, JSON.stringify({ ...header, schemaVersion: 2 }) + '\n');
  err(() => readRun(w.dir), 'events.jsonl', /schema version 2 is newer/);
  fs.writeFileSync(ev, '{"type":"step","t":1,"step":1}\n');
  err(() => readRun(w.dir), 'events.jsonl', /no header line/);
  fs.rmSync(path.join(w.dir, 'config.json'));
  err(() => readRun(w.dir), 'config.json', /missing/);
  assert.throws(() => readRun(path.join(root, 'nope')), /no such run folder/);
});

test('listRuns: newest first, non-run folders skipped, stale state derived without writing', () => {
  const root = tmpDir();
  const clock = fakeClock(Date.UTC(2026, 0, 1));
  const ids = ['a-old', 'b-mid', 'c-new'];
  for (const id of ids) {
    clock.advance(60_000);
    // The running one on the real clock: its heartbeat (status.json updatedAt) is fresh.
    const w = RunRecorder.create(root, id, testConfig(), testHeader(), {
      now: id === 'c-new' ? Date.now : clock.now,
      timer: false,
    });
    if (id !== 'c-new') w.finish('completed');
    else w.close();
  }
  fs.mkdirSync(path.join(root, 'not-a-run'));
  fs.writeFileSync(path.join(root, 'not-a-run', 'x.txt'), '');
  fs.mkdirSync(path.join(root, '.hidden'));
  fs.writeFileSync(path.join(root, 'stray-file.json'), '{}');
  const statusFile = path.join(root, 'c-new', 'status.json');
  const statusBefore = fs.readFileSync(statusFile, 'utf8');

  const runs = listRuns(root, { isAlive: () => false });
  assert.deepEqual(
    runs.map((r) => r.id),
    ['c-new', 'b-mid', 'a-old'],
  );
  assert.equal(runs[0].state, 'failed');
  assert.match(runs[0].stale!, /process \d+ exited without finishing/);
  assert.equal(runs[0].status!.state, 'running', 'status.json as written');
  assert.equal(fs.readFileSync(statusFile, 'utf8'), statusBefore, 'nothing written');
  assert.equal(runs[1].summary!.state, 'completed');
  assert.equal(runs[1].config!.name, 'small lr');
  assert.ok(runs[0].mtime > 0);
  // Our own pid is alive: still running. A run on another host is taken at its word.
  assert.equal(listRuns(root)[0].state, 'running');
  const other: RunStatus = { ...JSON.parse(statusBefore), host: 'elsewhere' };
  assert.equal(effectiveState(other, null, { isAlive: () => false }).state, 'running');
  // Broken files do not hide a run.
  fs.writeFileSync(path.join(root, 'b-mid', 'summary.json'), '{');
  const b = listRuns(root).find((r) => r.id === 'b-mid')!;
  assert.match(b.error!, /summary\.json: the run summary is not valid JSON/);
  assert.deepEqual(listRuns(path.join(root, 'missing')), []);
});

/** Run a small TypeScript program in a child process (tsx), returning the child. */
function child(code: string, root: string) {
  const file = path.join(root, `child-${Math.random().toString(36).slice(2)}.ts`);
  fs.writeFileSync(file, code.replaceAll('$SRC', JSON.stringify(SRC).slice(1, -1)));
  return spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'pipe'] });
}

test('status.json is replaced atomically: a concurrent reader never sees partial JSON', async () => {
  const root = tmpDir();
  const file = path.join(root, 'status.json');
  writeJsonAtomic(file, { n: 0 });
  const c = child(
    `import { writeJsonAtomic } from '$SRC/runs/writer';
     const pad = 'x'.repeat(20000);
     const end = Date.now() + 400;
     for (let n = 1; Date.now() < end; n++) writeJsonAtomic(${JSON.stringify(file)}, { n, pad });
     console.log('done');`,
    root,
  );
  const exited = new Promise<number>((r) => c.on('exit', (code) => r(code ?? -1)));
  let reads = 0;
  let bad = 0;
  let maxN = 0;
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    try {
      maxN = Math.max(maxN, JSON.parse(fs.readFileSync(file, 'utf8')).n);
    } catch {
      bad++;
    }
    reads++;
    if (reads % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  assert.equal(await exited, 0);
  assert.equal(bad, 0, `${bad} of ${reads} reads saw invalid JSON`);
  assert.ok(
    maxN > 5 && reads > 50,
    `the loop really ran concurrently (writes ${maxN}, reads ${reads})`,
  );
  assert.deepEqual(
    fs.readdirSync(root).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary files left',
  );
});

test('a killed trainer leaves complete lines; the run reads as failed; the exit hook flushes', async () => {
  const root = tmpDir();
  const cfg = JSON.stringify(testConfig());
  const header = JSON.stringify(testHeader());
  const c = child(
    `import { RunRecorder } from '$SRC/runs/recorder';
     const w = RunRecorder.create(${JSON.stringify(root)}, 'killed', ${cfg}, ${header}, { flushIntervalMs: 0, stepIntervalMs: 0 });
     console.log('ready');
     for (let s = 0; ; s++) {
       w.append({ type: 'step', step: s, epoch: 0, loss: 1, lr: 0.1, penalty: null, gradNorm: 1, examplesPerSec: 1, pad: 'y'.repeat(s % 3000) } as any);
     }`,
    root,
  );
  await new Promise<void>((r) => c.stdout.once('data', () => r()));
  await new Promise((r) => setTimeout(r, 150));
  c.kill('SIGKILL');
  await new Promise((r) => c.on('exit', r));
  const r = readRun(path.join(root, 'killed'));
  assert.ok(r.byType.step.length > 10, `${r.byType.step.length} steps`);
  assert.deepEqual(r.corruptLines, []);
  assert.equal(r.state, 'failed');
  assert.match(r.stale!, /exited without finishing/);

  // A held-back step is written by the 'exit' hook when the process ends without finish().
  const c2 = child(
    `import { RunRecorder } from '$SRC/runs/recorder';
     const w = RunRecorder.create(${JSON.stringify(root)}, 'exits', ${cfg}, ${header}, { timer: false, stepIntervalMs: 60000 });
     for (let s = 1; s <= 5; s++) w.append({ type: 'step', step: s, epoch: 0, loss: 1, lr: 0.1, penalty: null, gradNorm: 1, examplesPerSec: 1 });
     process.exit(0);`,
    root,
  );
  await new Promise((r) => c2.on('exit', r));
  assert.deepEqual(
    readRun(path.join(root, 'exits')).byType.step.map((e) => e.step),
    [1, 5],
  );
});

test('stopRequested sees the STOP file; finish records errors only for failed runs', () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'stop', testConfig(), testHeader(), { timer: false });
  assert.equal(w.stopRequested(), false);
  fs.writeFileSync(path.join(w.dir, 'STOP'), '');
  assert.equal(w.stopRequested(), true);
  w.finish('stopped', 'stopped: STOP file');
  const r = readRun(w.dir);
  assert.equal(r.state, 'stopped');
  assert.equal(r.byType.status.at(-1)!.message, 'stopped: STOP file');
  assert.equal(r.status!.error, null, 'a stop reason is not an error');
  assert.equal(r.summary!.error, null);
  const f = RunRecorder.create(root, 'fails', testConfig(), testHeader(), { timer: false });
  assert.throws(() => f.finish('running'), /expected a terminal state/);
  f.finish('diverged', 'loss is NaN at step 7');
  const rf = readRun(f.dir);
  assert.equal(rf.status!.error, 'loss is NaN at step 7');
  assert.equal(rf.summary!.error, 'loss is NaN at step 7');
  assert.equal(rf.byType.status.at(-1)!.message, 'loss is NaN at step 7');
});

test('detectorEvents: the writer appends detector events from the steps and measurements it is given', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunRecorder.create(root, 'det', testConfig(), testHeader(), {
    now: clock.now,
    timer: false,
  });
  for (let s = 0; s <= 1500; s++) {
    clock.advance(1);
    w.append({
      type: 'step',
      step: s,
      epoch: 0,
      loss: 2.3 * Math.exp(-s / 300) + 0.1,
      lr: 0.001,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 1,
    });
    if (s % 10 === 0)
      w.append({
        type: 'fisher',
        step: s,
        epoch: 0,
        trF: s < 100 ? 10 : s <= 1000 ? 10 + (50 * (s - 100)) / 900 : 60 - (s - 1000) / 10,
        trFStderr: 0,
        probeSize: 16,
        trFB: null,
        ms: 1,
      });
  }
  const summary = w.finish('completed');
  const det = readRun(w.dir).byType.detector;
  assert.deepEqual([...new Set(det.map((d) => d.kind))].sort(), ['explosion', 'peak', 'trFi']);
  // Each rise of the early peak is a `peak` event; the last one is the summary's peak (one peak everywhere).
  const peaks = det.filter((d) => d.kind === 'peak');
  assert.equal(summary.peakStep, peaks[peaks.length - 1].step);
  assert.equal(summary.peakTrF, peaks[peaks.length - 1].value);
  assert.equal(summary.explosion, true);
  assert.equal(summary.explosionBasis, 'initial');
  assert.equal(summary.trFiStep, det.find((d) => d.kind === 'trFi')!.step);
  assert.deepEqual(summary.peakTrF, w.detectorState.earlyPeak!.value);
});

/** Every non-step line with step s: no later `step` line may have a step ≤ s. */
function assertStepOrder(ev: { type: string; step?: number }[]): void {
  let maxNonStep = -Infinity;
  for (const [i, e] of ev.entries()) {
    if (e.type === 'step')
      assert.ok(
        e.step! > maxNonStep,
        `line ${i + 1}: step ${e.step} after a ${e.type === 'step' ? '' : 'non-step '}line of step ${maxNonStep}`,
      );
    else if (typeof e.step === 'number') maxNonStep = Math.max(maxNonStep, e.step);
  }
}

test('events.jsonl: fisher/eval/detector/log lines are on disk at once, and in step order after held-back steps', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunRecorder.create(root, 'order', testConfig(), testHeader(), {
    now: clock.now,
    timer: false,
  });
  const last = () => lines(w.dir).at(-1);
  for (let s = 0; s < 600; s++) {
    // The trainer's order: Tr(F) and evaluation at the start of step s, then the step event s + 1.
    if (s % 10 === 0) {
      w.append({
        type: 'fisher',
        step: s,
        epoch: 0,
        trF: s < 200 ? 10 + s : 210 - (s - 200) / 4,
        trFStderr: 0,
        probeSize: 16,
        trFB: null,
        ms: 1,
      });
      assert.equal(
        last().type === 'fisher' || last().type === 'detector',
        true,
        'fisher line written without a flush',
      );
    }
    if (s % 100 === 0 && s > 0) {
      w.append({
        type: 'eval',
        step: s,
        epoch: 0,
        testLoss: 1,
        testAcc: 0.5,
        trainLoss: 1,
        trainAcc: 0.5,
        cleanLoss: null,
        cleanAcc: null,
        noisyLoss: null,
        noisyAcc: null,
      });
      assert.equal(last().type, 'eval');
    }
    clock.advance(3); // 333 steps/s: most step lines are held back
    w.append({
      type: 'step',
      step: s + 1,
      epoch: 0,
      loss: 2.3 * Math.exp(-s / 100),
      lr: 0.1,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 1,
    });
  }
  w.append({ type: 'log', level: 'info', message: 'x' });
  assert.equal(last().message, 'x');
  w.finish('completed');
  const ev = lines(w.dir);
  assert.ok(
    ev.some((e) => e.type === 'detector'),
    'detector lines present',
  );
  assertStepOrder(ev);
  // The step just before each measurement is on disk right before it.
  for (const [i, e] of ev.entries())
    if (e.type === 'fisher' && e.step > 0)
      assert.deepEqual([ev[i - 1].type, ev[i - 1].step], ['step', e.step], `line ${i}`);
});

test('heartbeat: status.json is rewritten every heartbeatSeconds while idle, and records the interval', async () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunRecorder.create(root, 'hb', testConfig(), testHeader(), {
    now: clock.now,
    timer: false,
  });
  const status = () =>
    JSON.parse(fs.readFileSync(path.join(w.dir, 'status.json'), 'utf8')) as RunStatus;
  assert.equal(status().heartbeatSeconds, 10);
  const t0 = status().updatedAt;
  clock.advance(9000);
  w.append({ type: 'log', level: 'info', message: 'no progress' });
  assert.equal(status().updatedAt, t0, 'not before the interval');
  clock.advance(1000);
  w.append({ type: 'log', level: 'info', message: 'still no progress' });
  assert.equal(
    Date.parse(status().updatedAt),
    Date.parse(t0) + 10_000,
    'heartbeat at 10 s without a step',
  );
  w.finish('completed');
  // The timer does it while the trainer appends nothing.
  const live = RunRecorder.create(root, 'hb-timer', testConfig(), testHeader(), {
    heartbeatSeconds: 0.05,
  });
  const first = JSON.parse(fs.readFileSync(path.join(live.dir, 'status.json'), 'utf8')).updatedAt;
  await waitFor(
    () =>
      JSON.parse(fs.readFileSync(path.join(live.dir, 'status.json'), 'utf8')).updatedAt !== first,
    2000,
    'a heartbeat',
  );
  live.finish('completed');
});

const enospc = () =>
  Object.assign(new Error('ENOSPC: no space left on device, write'), {
    code: 'ENOSPC',
    errno: -28,
    syscall: 'write',
  });
const noTmp = (dir: string) =>
  assert.deepEqual(
    fs.readdirSync(dir).filter((f) => f.includes('.tmp') || f.includes('reserve')),
    [],
    'no temporary files left',
  );

test('write errors: named file and cause, run ends failed, previous JSON intact, folder readable', () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'full', testConfig(), testHeader(), {
    timer: false,
    stepIntervalMs: 0,
  });
  w.append({
    type: 'step',
    step: 1,
    epoch: 0,
    loss: 1,
    lr: 1,
    penalty: null,
    gradNorm: 1,
    examplesPerSec: 1,
  });
  writeFaults.beforeWrite = (file) => {
    if (file === 'events.jsonl') throw enospc();
  };
  try {
    assert.throws(
      () =>
        w.append({
          type: 'fisher',
          step: 1,
          epoch: 0,
          trF: 1,
          trFStderr: 0,
          probeSize: 16,
          trFB: null,
          ms: 1,
        }),
      (e: Error) =>
        e instanceof RunWriteError &&
        e.message === 'events.jsonl: no space left on device (ENOSPC)',
    );
    assert.throws(
      () =>
        w.append({
          type: 'step',
          step: 2,
          epoch: 0,
          loss: 1,
          lr: 1,
          penalty: null,
          gradNorm: 1,
          examplesPerSec: 1,
        }),
      /events\.jsonl: no space left on device \(ENOSPC\)/,
      'later appends fail at once',
    );
    const s = w.finish('completed');
    assert.equal(s.state, 'failed', 'a write error turns any end into failed');
    assert.equal(s.error, 'events.jsonl: no space left on device (ENOSPC)');
  } finally {
    writeFaults.beforeWrite = null;
  }
  const r = readRun(w.dir);
  assert.equal(r.status!.state, 'failed');
  assert.equal(r.status!.error, 'events.jsonl: no space left on device (ENOSPC)');
  assert.equal(r.summary!.state, 'failed');
  assert.deepEqual(
    r.byType.step.map((e) => e.step),
    [1],
  );
  noTmp(w.dir);

  // Even status.json and summary.json cannot be written: the previous status.json stays, complete.
  const w2 = RunRecorder.create(root, 'full2', testConfig(), testHeader(), { timer: false });
  const before = fs.readFileSync(path.join(w2.dir, 'status.json'), 'utf8');
  writeFaults.beforeWrite = () => {
    throw enospc();
  };
  let s2;
  try {
    s2 = w2.finish('completed');
  } finally {
    writeFaults.beforeWrite = null;
  }
  assert.equal(s2.state, 'failed');
  assert.match(s2.error!, /^(events\.jsonl|summary\.json): no space left on device \(ENOSPC\)$/);
  assert.equal(
    fs.readFileSync(path.join(w2.dir, 'status.json'), 'utf8'),
    before,
    'status.json untouched',
  );
  assert.ok(!fs.existsSync(path.join(w2.dir, 'summary.json')));
  noTmp(w2.dir);
  assert.equal(readRun(w2.dir, { isAlive: () => false }).header!.runId, 'full2', 'still readable');

  // A heartbeat that cannot be written surfaces on the next append.
  const w3 = RunRecorder.create(root, 'full3', testConfig(), testHeader(), {
    timer: false,
    statusIntervalMs: 0,
  });
  writeFaults.beforeWrite = (file) => {
    if (file === 'status.json')
      throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  };
  try {
    assert.throws(
      () =>
        w3.append({
          type: 'step',
          step: 1,
          epoch: 0,
          loss: 1,
          lr: 1,
          penalty: null,
          gradNorm: 1,
          examplesPerSec: 1,
        }),
      /^RunWriteError: status\.json: input\/output error \(EIO\)$/,
    );
  } finally {
    writeFaults.beforeWrite = null;
  }
  assert.equal(w3.finish('completed').state, 'failed');
  assert.equal(readRun(w3.dir).status!.error, 'status.json: input/output error (EIO)');
  noTmp(w3.dir);
});

test('checkpoint: written in a private temporary folder and renamed into place; failures leave nothing', async () => {
  const root = tmpDir();
  const w = RunRecorder.create(root, 'ckpt', testConfig(), testHeader(), { timer: false });
  await assert.rejects(
    w.writeCheckpoint((d) => {
      assert.equal(fs.statSync(d).mode & 0o777, 0o700, 'private while written');
      fs.writeFileSync(path.join(d, 'params.bin.tmp'), 'half');
      throw Object.assign(enospc(), { path: path.join(d, 'params.bin.tmp') });
    }),
    (e: Error) =>
      e instanceof RunWriteError &&
      e.message === 'checkpoint/params.bin: no space left on device (ENOSPC)',
  );
  assert.deepEqual(
    fs.readdirSync(w.dir).sort(),
    [`.space-reserve-${process.pid}`, 'config.json', 'events.jsonl', 'status.json'],
    'no checkpoint, no temporary folder (the space reserve is held while live)',
  );
  await w.writeCheckpoint((d) => {
    fs.writeFileSync(path.join(d, 'params.bin'), 'b');
    fs.writeFileSync(path.join(d, 'params.json'), '{}');
  });
  assert.deepEqual(fs.readdirSync(path.join(w.dir, 'checkpoint')).sort(), [
    'params.bin',
    'params.json',
  ]);
  assert.equal(fs.statSync(path.join(w.dir, 'checkpoint')).mode & 0o777, 0o755);
  await assert.rejects(
    w.writeCheckpoint(() => {}),
    RunExistsError,
    'never overwritten',
  );
  w.finish('completed');

  // A planted checkpoint symlink is refused; nothing is written where it points.
  const outside = tmpDir('fl-outside-');
  const w2 = RunRecorder.create(root, 'ckpt2', testConfig(), testHeader(), { timer: false });
  fs.symlinkSync(outside, path.join(w2.dir, 'checkpoint'));
  await assert.rejects(
    w2.writeCheckpoint((d) => fs.writeFileSync(path.join(d, 'params.bin'), 'b')),
    RunExistsError,
  );
  assert.deepEqual(fs.readdirSync(outside), []);
  w2.finish('completed');
  noTmp(w2.dir);
});

test('symlinks: a symlinked run folder, or symlinked files in a queued placeholder, are refused; nothing written outside', () => {
  const root = tmpDir();
  const outside = tmpDir('fl-outside-');
  fs.symlinkSync(outside, path.join(root, 'linked'));
  fs.symlinkSync(path.join(outside, 'nowhere'), path.join(root, 'dangling'));
  for (const id of ['linked', 'dangling']) {
    assert.throws(
      () => RunRecorder.create(root, id, testConfig(), testHeader(), { timer: false }),
      (e: Error) =>
        e instanceof UnsafeRunDirError &&
        e instanceof RunExistsError &&
        /symbolic link/.test(e.message),
    );
    assert.throws(() => writeQueuedRun(root, id, testConfig()), UnsafeRunDirError);
  }
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through the links');

  for (const name of ['status.json', 'events.jsonl', 'config.json']) {
    const id = `q-${name.replace('.', '-')}`;
    writeQueuedRun(root, id, testConfig());
    const dir = path.join(root, id);
    const target = path.join(outside, `${name}.target`);
    if (name !== 'events.jsonl') {
      fs.copyFileSync(path.join(dir, name), target);
      fs.rmSync(path.join(dir, name));
    }
    const content = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null;
    fs.symlinkSync(target, path.join(dir, name));
    assert.throws(
      () => RunRecorder.create(root, id, testConfig(), testHeader(), { timer: false }),
      (e: Error) =>
        e instanceof UnsafeRunDirError &&
        e.message.includes(`${name} in the queued run folder is a symbolic link`),
      name,
    );
    assert.equal(
      fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : null,
      content,
      `${name}: target untouched`,
    );
  }
  assert.deepEqual(fs.readdirSync(outside).sort(), ['config.json.target', 'status.json.target']);
});

test('creation is atomic: a trainer killed while creating leaves no run, the same id can be retried, the stage is cleaned later', async () => {
  const root = tmpDir();
  const c = child(
    `import { RunRecorder } from '$SRC/runs/recorder';
     RunRecorder.create(${JSON.stringify(root)}, 'retry', ${JSON.stringify(testConfig())}, ${JSON.stringify(testHeader())}, {
       onStaged: () => { console.log('staged'); Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20000); },
     });`,
    root,
  );
  await new Promise<void>((r) => c.stdout.on('data', (d) => String(d).includes('staged') && r()));
  c.kill('SIGKILL');
  await new Promise((r) => c.on('exit', r));
  const stage = fs.readdirSync(root).find((n) => n.startsWith('.retry.creating-'));
  assert.ok(stage, 'a hidden staging folder is what is left');
  assert.ok(!fs.existsSync(path.join(root, 'retry')));
  assert.deepEqual(
    listRuns(root).map((r) => r.id),
    [],
    'readers do not list it',
  );
  const w = RunRecorder.create(root, 'retry', testConfig(), testHeader(), { timer: false });
  w.finish('completed');
  assert.equal(readRun(w.dir).state, 'completed');
  assert.ok(
    fs.existsSync(path.join(root, stage)),
    'a young stage is kept (its creator might be on another host)',
  );
  const old = new Date(Date.now() - 120_000);
  fs.utimesSync(path.join(root, stage), old, old);
  RunRecorder.create(root, 'another', testConfig(), testHeader(), { timer: false }).finish(
    'completed',
  );
  assert.ok(!fs.existsSync(path.join(root, stage)), 'a stale stage of a dead process is removed');
});

test('adoption: stale temporary files and a half-adopted events.jsonl of a dead trainer are cleaned; a live one is refused', () => {
  const root = tmpDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeQueuedRun(root, 'half', testConfig(), { jobId: '9' });
  const dir = path.join(root, 'half');
  fs.writeFileSync(path.join(dir, `status.json.tmp-${dead}-3`), '{"trunc');
  const header = {
    type: 'header',
    t: 1,
    schemaVersion: 1,
    runId: 'half',
    ...testHeader(),
    host: os.hostname(),
    pid: dead,
  };
  fs.writeFileSync(path.join(dir, 'events.jsonl'), JSON.stringify(header) + '\n');
  const w = RunRecorder.create(root, 'half', testConfig(), testHeader(), { timer: false });
  w.finish('completed');
  const r = readRun(dir);
  assert.equal(r.state, 'completed');
  assert.equal(r.status!.jobId, '9');
  assert.equal(r.header!.pid, process.pid);
  assert.deepEqual(fs.readdirSync(dir).sort(), [
    'config.json',
    'events.jsonl',
    'status.json',
    'summary.json',
  ]);

  writeQueuedRun(root, 'busy', testConfig());
  fs.writeFileSync(
    path.join(root, 'busy', 'events.jsonl'),
    JSON.stringify({ ...header, runId: 'busy', pid: process.pid }) + '\n',
  );
  assert.throws(
    () => RunRecorder.create(root, 'busy', testConfig(), testHeader(), { timer: false }),
    /found events\.jsonl/,
  );
});

test('a run folder swapped for a symlink while running is noticed: nothing is written through it', () => {
  const root = tmpDir();
  const outside = tmpDir('fl-outside-');
  const w = RunRecorder.create(root, 'swap', testConfig(), testHeader(), {
    timer: false,
    statusIntervalMs: 0,
  });
  fs.renameSync(w.dir, path.join(root, 'moved-away'));
  fs.symlinkSync(outside, w.dir);
  assert.throws(
    () =>
      w.append({
        type: 'step',
        step: 1,
        epoch: 0,
        loss: 1,
        lr: 1,
        penalty: null,
        gradNorm: 1,
        examplesPerSec: 1,
      }),
    /the run folder was replaced by a symbolic link/,
  );
  const s = w.finish('completed');
  assert.equal(s.state, 'failed');
  assert.deepEqual(fs.readdirSync(outside), [], 'nothing written through the link');
  // The events went on into the original folder (an open descriptor), complete.
  assert.equal(lines(path.join(root, 'moved-away')).at(-1).state, 'failed');
});

test('a runs root created for a run is git-ignored (a .gitignore of its own); an existing root is left alone', () => {
  const repo = tmpDir('fl-git-');
  const git = (...args: string[]) =>
    spawnSync('git', args, { cwd: repo, encoding: 'utf8', env: { ...process.env, HOME: repo } });
  if (git('init', '-q').status !== 0) return; // no git here: nothing to check against
  const root = path.join(repo, '.fisherlens', 'runs');
  writeQueuedRun(root, '20261127-214826-queued', testConfig());
  const w = RunRecorder.create(root, '20261127-214827-ran', testConfig(), testHeader(), {
    timer: false,
  });
  w.finish('completed');
  assert.equal(fs.readFileSync(path.join(root, '.gitignore'), 'utf8').split('\n').at(-2), '*');
  // Git itself sees nothing to add: no run file, no checkpoint, not the .gitignore.
  assert.equal(git('status', '--porcelain', '--untracked-files=all').stdout, '');
  // A root that already exists (the user's folder) gets no file from us.
  const own = path.join(repo, 'mine');
  fs.mkdirSync(own);
  writeQueuedRun(own, '20261127-214828-queued', testConfig());
  assert.ok(!fs.existsSync(path.join(own, '.gitignore')));
  assert.match(git('status', '--porcelain', '--untracked-files=all').stdout, /mine\/20261127/);
});
