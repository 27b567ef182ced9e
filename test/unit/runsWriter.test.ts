import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { RunWriter, RunExistsError, writeJsonAtomic, writeQueuedRun } from '../../src/runs/writer';
import { readRun, listRuns, RunReadError, effectiveState } from '../../src/runs/reader';
import { makeRunId, slugify } from '../../src/runs/runId';
import type { RunStatus } from '../../src/shared/protocol';
import { tmpDir, testConfig, testHeader, fakeClock, SRC } from './runsHelpers';

const lines = (dir: string) => fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

test('writer → reader round trip', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const cfg = testConfig();
  const w = RunWriter.create(root, '20261127-214826-small-lr', cfg, testHeader(), { now: clock.now, timer: false, jobId: '42' });
  for (let s = 1; s <= 100; s++) {
    clock.advance(100); // 10 steps/s: nothing throttled
    w.append({ type: 'step', step: s, epoch: s / 8, loss: 2.3 - s / 50, lr: 0.001, penalty: null, gradNorm: 1, examplesPerSec: 320 });
    if (s % 10 === 0) w.append({ type: 'fisher', step: s, epoch: s / 8, trF: 10 + s, trFStderr: 1, probeSize: 16, trFB: null, ms: 5 });
    if (s % 50 === 0) w.append({ type: 'eval', step: s, epoch: s / 8, testLoss: 1, testAcc: s === 50 ? 0.8 : 0.7, trainLoss: 1, trainAcc: 0.9, cleanLoss: null, cleanAcc: null, noisyLoss: null, noisyAcc: null });
  }
  w.append({ type: 'log', level: 'info', message: 'hello' });
  const summary = w.finish('completed', { finalTestAcc: 0.7 });

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
  assert.deepEqual(r.byType.status.map((s) => s.state), ['running', 'completed']);
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
  assert.deepEqual(fs.readdirSync(w.dir).sort(), ['config.json', 'events.jsonl', 'status.json', 'summary.json']);
  assert.throws(() => w.append({ type: 'log', level: 'info', message: 'late' }), /already finished/);
});

test('throttling keeps every fisher event and the last step; the summary sees every step', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunWriter.create(root, 'throttle', testConfig(), testHeader(), { now: clock.now, timer: false });
  for (let s = 0; s < 1000; s++) {
    clock.advance(1); // 1000 steps/s
    w.append({ type: 'step', step: s, epoch: s / 8, loss: 3 - s / 1000, lr: 0.1, penalty: null, gradNorm: 1, examplesPerSec: 1 });
    if (s % 10 === 0) w.append({ type: 'fisher', step: s, epoch: s / 8, trF: s, trFStderr: 0, probeSize: 16, trFB: 1, ms: 1 });
  }
  const summary = w.finish('stopped');
  const ev = lines(w.dir);
  const steps = ev.filter((e) => e.type === 'step');
  const fisher = ev.filter((e) => e.type === 'fisher');
  assert.equal(fisher.length, 100, 'no fisher event dropped');
  assert.deepEqual(fisher.map((e) => e.step), Array.from({ length: 100 }, (_, i) => i * 10));
  assert.ok(steps.length <= 1000 / 50 + 2, `${steps.length} step events for 1 s`);
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
  const w = RunWriter.create(root, 'idle', testConfig(), testHeader(), { stepIntervalMs: 50, flushIntervalMs: 20 });
  w.append({ type: 'step', step: 1, epoch: 0, loss: 1, lr: 1, penalty: null, gradNorm: 1, examplesPerSec: 1 });
  w.append({ type: 'step', step: 2, epoch: 0, loss: 1, lr: 1, penalty: null, gradNorm: 1, examplesPerSec: 1 });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lines(w.dir).filter((e) => e.type === 'step').map((e) => e.step), [1, 2]);
  w.finish('completed');
});

test('never overwrites a run; adopts a queued placeholder; run ids', () => {
  const root = tmpDir();
  const w = RunWriter.create(root, 'r1', testConfig(), testHeader(), { timer: false });
  w.finish('completed');
  const before = fs.readFileSync(path.join(w.dir, 'events.jsonl'), 'utf8');
  assert.throws(() => RunWriter.create(root, 'r1', testConfig(), testHeader()), (e: Error) => e instanceof RunExistsError && e.message.includes(path.join(root, 'r1')) && /refusing to overwrite/.test(e.message));
  assert.equal(fs.readFileSync(path.join(w.dir, 'events.jsonl'), 'utf8'), before, 'untouched');
  fs.mkdirSync(path.join(root, 'other'));
  fs.writeFileSync(path.join(root, 'other', 'notes.txt'), 'x');
  assert.throws(() => RunWriter.create(root, 'other', testConfig(), testHeader()), RunExistsError);
  fs.mkdirSync(path.join(root, 'empty'));
  RunWriter.create(root, 'empty', testConfig(), testHeader(), { timer: false }).finish('completed');
  assert.throws(() => RunWriter.create(root, '../escape', testConfig(), testHeader()), /invalid run id/);

  // A launcher's queued placeholder is adopted, keeping its job id; a second queue of the same id is refused.
  writeQueuedRun(root, 'queued', testConfig(), { jobId: '777' });
  assert.equal(listRuns(root).find((r) => r.id === 'queued')!.state, 'queued');
  assert.throws(() => writeQueuedRun(root, 'queued', testConfig()), RunExistsError);
  const q = RunWriter.create(root, 'queued', testConfig(), testHeader(), { timer: false });
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
  const u = RunWriter.createUnique(root, 'small lr', testConfig(), testHeader(), { date: d, timer: false });
  assert.equal(u.runId, '20261127-214826-small-lr-3');
  u.finish('completed');
});

test('reader: torn last line skipped, corrupt middle line counted, errors name the file', () => {
  const root = tmpDir();
  const w = RunWriter.create(root, 'torn', testConfig(), testHeader(), { timer: false });
  w.append({ type: 'fisher', step: 1, epoch: 0, trF: 1, trFStderr: 0, probeSize: 16, trFB: null, ms: 1 });
  w.close();
  const ev = path.join(w.dir, 'events.jsonl');
  fs.appendFileSync(ev, '{"type":"fisher","t":1,"st\n'); // corrupt line 4
  fs.appendFileSync(ev, JSON.stringify({ type: 'fisher', t: 2, step: 2, epoch: 0, trF: 2, trFStderr: 0, probeSize: 16, trFB: null, ms: 1 }) + '\n');
  fs.appendFileSync(ev, JSON.stringify({ type: 'future-kind', t: 3 }) + '\n'); // unknown type: skipped, not corrupt
  fs.appendFileSync(ev, '{"type":"fisher","t":3,"step":3,"epo'); // torn
  const r = readRun(w.dir, { isAlive: () => false });
  assert.deepEqual(r.byType.fisher.map((e) => e.step), [1, 2]);
  assert.deepEqual(r.corruptLines, [4]);
  assert.equal(r.tornTail, true);
  assert.equal(r.state, 'failed', 'closed without finishing and the process is gone');
  assert.match(r.stale!, /exited without finishing/);
  assert.equal(readRun(w.dir, { isAlive: () => true }).state, 'running');

  // A complete last line without its newline is accepted by a one-shot read.
  fs.appendFileSync(ev, 'ch":0,"trF":3,"trFStderr":0,"probeSize":16,"trFB":null,"ms":1}');
  const r2 = readRun(w.dir, { isAlive: () => false });
  assert.deepEqual(r2.byType.fisher.map((e) => e.step), [1, 2, 3]);
  assert.equal(r2.tornTail, false);

  const err = (f: () => unknown, file: string, re: RegExp) =>
    assert.throws(f, (e: Error) => e instanceof RunReadError && e.message.startsWith(path.join(w.dir, file)) && re.test(e.message), `${file} ${re}`);
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
    const w = RunWriter.create(root, id, testConfig(), testHeader(), { now: clock.now, timer: false });
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
  assert.deepEqual(runs.map((r) => r.id), ['c-new', 'b-mid', 'a-old']);
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
  assert.ok(maxN > 5 && reads > 50, `the loop really ran concurrently (writes ${maxN}, reads ${reads})`);
  assert.deepEqual(fs.readdirSync(root).filter((f) => f.includes('.tmp-')), [], 'no temporary files left');
});

test('a killed trainer leaves complete lines; the run reads as failed; the exit hook flushes', async () => {
  const root = tmpDir();
  const cfg = JSON.stringify(testConfig());
  const header = JSON.stringify(testHeader());
  const c = child(
    `import { RunWriter } from '$SRC/runs/writer';
     const w = RunWriter.create(${JSON.stringify(root)}, 'killed', ${cfg}, ${header}, { flushIntervalMs: 0, stepIntervalMs: 0 });
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
    `import { RunWriter } from '$SRC/runs/writer';
     const w = RunWriter.create(${JSON.stringify(root)}, 'exits', ${cfg}, ${header}, { timer: false, stepIntervalMs: 60000 });
     for (let s = 1; s <= 5; s++) w.append({ type: 'step', step: s, epoch: 0, loss: 1, lr: 0.1, penalty: null, gradNorm: 1, examplesPerSec: 1 });
     process.exit(0);`,
    root,
  );
  await new Promise((r) => c2.on('exit', r));
  assert.deepEqual(readRun(path.join(root, 'exits')).byType.step.map((e) => e.step), [1, 5]);
});

test('stopRequested sees the STOP file; finish records errors only for failed runs', () => {
  const root = tmpDir();
  const w = RunWriter.create(root, 'stop', testConfig(), testHeader(), { timer: false });
  assert.equal(w.stopRequested(), false);
  fs.writeFileSync(path.join(w.dir, 'STOP'), '');
  assert.equal(w.stopRequested(), true);
  w.finish('stopped', {}, 'stopped: STOP file');
  const r = readRun(w.dir);
  assert.equal(r.state, 'stopped');
  assert.equal(r.byType.status.at(-1)!.message, 'stopped: STOP file');
  assert.equal(r.status!.error, null, 'a stop reason is not an error');
  assert.equal(r.summary!.error, null);
  const f = RunWriter.create(root, 'fails', testConfig(), testHeader(), { timer: false });
  assert.throws(() => f.finish('running'), /expected a terminal state/);
  f.finish('diverged', {}, 'loss is NaN at step 7');
  const rf = readRun(f.dir);
  assert.equal(rf.status!.error, 'loss is NaN at step 7');
  assert.equal(rf.summary!.error, 'loss is NaN at step 7');
  assert.equal(rf.byType.status.at(-1)!.message, 'loss is NaN at step 7');
});

test('detectorEvents: the writer appends detector events from the steps and measurements it is given', () => {
  const root = tmpDir();
  const clock = fakeClock();
  const w = RunWriter.create(root, 'det', testConfig(), testHeader(), { now: clock.now, timer: false, detectorEvents: true });
  for (let s = 0; s <= 1500; s++) {
    clock.advance(1);
    w.append({ type: 'step', step: s, epoch: 0, loss: 2.3 * Math.exp(-s / 300) + 0.1, lr: 0.001, penalty: null, gradNorm: 1, examplesPerSec: 1 });
    if (s % 10 === 0) w.append({ type: 'fisher', step: s, epoch: 0, trF: s < 100 ? 10 : s <= 1000 ? 10 + (50 * (s - 100)) / 900 : 60 - (s - 1000) / 10, trFStderr: 0, probeSize: 16, trFB: null, ms: 1 });
  }
  const summary = w.finish('completed');
  const det = readRun(w.dir).byType.detector;
  assert.deepEqual(det.map((d) => d.kind).sort(), ['explosion', 'peak', 'trFi']);
  assert.equal(summary.peakStep, det.find((d) => d.kind === 'peak')!.step);
  assert.equal(summary.trFiStep, det.find((d) => d.kind === 'trFi')!.step);
  assert.deepEqual(summary.peakTrF, w.detectorState.earlyPeak!.value);
});
