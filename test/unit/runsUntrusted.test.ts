/**
 * Crafted and damaged run folders at the reader/tailer level: damaged status/summary/config are salvaged and
 * named, stale live states are recognised by heartbeat, pid and age, and a big events.jsonl is read in bounded
 * chunks into a bounded history whose view stays small while every Tr(F) measurement and its maximum survive.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { effectiveState, listRuns, readRun, runInfo } from '../../src/runs/reader';
import { EventsFileReader } from '../../src/runs/eventsReader';
import { RunTailer } from '../../src/runs/tailer';
import {
  appendEvents,
  createSeries,
  boundSeries,
  viewSeries,
  headline,
  HOST_MAX_POINTS,
  VIEW_MAX_POINTS,
} from '../../src/shared/series';
import { validateToMonitor } from '../../src/shared/webviewProtocol';
import type { RunStatus, RunSummary } from '../../src/shared/protocol';
import { tmpDir } from './runsHelpers';
import { fakeConfig, fakeRunEvents, fakeSummary } from '../../src/runs/fakeRun';

const HOST = os.hostname();
const now = Date.UTC(2026, 10, 28, 14, 30);
const iso = (ms: number) => new Date(ms).toISOString();
const status = (extra: Partial<RunStatus> = {}): RunStatus => ({
  runId: 'r',
  state: 'running',
  step: 10,
  totalSteps: 100,
  pid: 4242,
  host: 'elsewhere',
  jobId: null,
  startedAt: iso(now - 3600_000),
  updatedAt: iso(now - 5_000),
  heartbeatSeconds: 10,
  error: null,
  ...extra,
});

/** A complete run folder (fake run) whose files can then be damaged. */
function makeRun(root: string, id: string): string {
  const dir = path.join(root, id);
  fs.mkdirSync(dir, { recursive: true });
  const o = { runId: id, steps: 200 };
  const events = fakeRunEvents(o);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(fakeConfig(o)));
  fs.writeFileSync(
    path.join(dir, 'events.jsonl'),
    events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify(status({ runId: id, state: 'completed', host: HOST, pid: null })),
  );
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(fakeSummary(o, events)));
  return dir;
}

test('damaged summary/status/config: never thrown, what is valid kept, every bad field named', () => {
  const root = tmpDir('fl-untrusted-');
  const write = (id: string, file: string, v: unknown) =>
    fs.writeFileSync(path.join(makeRun(root, id), file), JSON.stringify(v));
  const good = JSON.parse(
    fs.readFileSync(path.join(makeRun(root, 'good'), 'summary.json'), 'utf8'),
  ) as RunSummary;
  write('empty-summary', 'summary.json', {});
  write('wrong-types', 'summary.json', { ...good, peakTrF: 'huge', steps: -3 });
  const { peakTrF: _drop, ...noPeak } = good;
  void _drop;
  write('no-peak', 'summary.json', noPeak);
  write('odd-state', 'status.json', status({ runId: 'odd-state', state: 'exploded' as never }));
  write('evil-config', 'config.json', {
    ...fakeConfig({ runId: 'x' }),
    name: '[x](command:workbench.action.terminal.new)',
  });

  const runs = listRuns(root, { now: () => now });
  const by = (id: string) => runs.find((r) => r.id === id)!;
  assert.deepEqual(by('good').problems, []);
  assert.ok(
    by('empty-summary').problems.some((p) => /^summary\.json: /.test(p)),
    by('empty-summary').problems.join('\n'),
  );
  assert.ok(by('wrong-types').problems.some((p) => /^summary\.json: peakTrF: /.test(p)));
  assert.ok(by('wrong-types').problems.some((p) => /^summary\.json: steps: /.test(p)));
  assert.equal(by('wrong-types').summary!.peakTrF, null, 'a bad metric becomes null');
  assert.equal(
    by('wrong-types').summary!.finalTestAcc,
    good.finalTestAcc,
    'the valid fields are kept',
  );
  assert.ok(by('no-peak').problems.some((p) => /^summary\.json: peakTrF: /.test(p)));
  assert.equal(by('no-peak').summary!.peakTrF, null);
  assert.doesNotThrow(() => headline(null, by('no-peak').summary));
  assert.ok(by('odd-state').problems.some((p) => /^status\.json: state: /.test(p)));
  assert.equal(by('odd-state').status, null);
  assert.equal(by('odd-state').state, 'completed', 'the summary still says how it ended');
  assert.equal(by('evil-config').config, null, 'a config that breaks the schema is not used');
  assert.ok(by('evil-config').problems.some((p) => /^config\.json: name: /.test(p)));

  // readRun: same salvage; the charts' data (events) are all there.
  for (const id of ['empty-summary', 'wrong-types', 'no-peak', 'odd-state']) {
    const r = readRun(path.join(root, id), { now: () => now });
    assert.ok(r.problems.length > 0, id);
    assert.ok(r.byType.fisher.length > 0, id);
  }
  assert.throws(
    () => readRun(path.join(root, 'evil-config')),
    /config\.json: not a valid run config: name/,
  );
});

test('stale live states: heartbeat, file mtime, pid, legacy writers, queued placeholders', () => {
  const alive = () => true;
  const dead = () => false;
  const base = { now: () => now, hostname: HOST, isAlive: alive };
  // Another host, heartbeat fresh: running. Silent for 10 min (> max(6 × 10 s, 120 s)): stale, with the reason.
  assert.equal(
    effectiveState(status(), null, { ...base, statusMtimeMs: now - 5_000 }).state,
    'running',
  );
  const old = effectiveState(status({ updatedAt: iso(now - 600_000) }), null, {
    ...base,
    statusMtimeMs: now - 1_000,
  });
  assert.equal(old.state, 'failed');
  const t = new Date(now - 600_000);
  const hhmm = `${String(t.getHours()).padStart(2, '0')}:${String(t.getMinutes()).padStart(2, '0')}`;
  assert.equal(
    old.stale,
    `no heartbeat since ${hhmm} (host elsewhere)`,
    'a fresh mtime (a cloned folder) does not revive it',
  );
  // A fresh updatedAt but an old file (nothing rewrote it): stale too. A future updatedAt counts as now.
  assert.equal(
    effectiveState(status({ updatedAt: iso(now) }), null, { ...base, statusMtimeMs: now - 600_000 })
      .state,
    'failed',
  );
  assert.equal(
    effectiveState(status({ updatedAt: iso(now + 86400_000) }), null, {
      ...base,
      statusMtimeMs: now - 1_000,
    }).state,
    'running',
  );
  // Heartbeat limit is max(6 × interval, 120 s).
  assert.equal(
    effectiveState(status({ updatedAt: iso(now - 100_000) }), null, {
      ...base,
      statusMtimeMs: now - 100_000,
    }).state,
    'running',
  );
  assert.equal(
    effectiveState(status({ heartbeatSeconds: 60, updatedAt: iso(now - 300_000) }), null, {
      ...base,
      statusMtimeMs: now - 300_000,
    }).state,
    'running',
  );
  assert.equal(
    effectiveState(status({ heartbeatSeconds: 60, updatedAt: iso(now - 400_000) }), null, {
      ...base,
      statusMtimeMs: now - 400_000,
    }).state,
    'failed',
  );
  // This host, pid alive but reused by another program: the expired heartbeat tells.
  const reused = effectiveState(status({ host: HOST, updatedAt: iso(now - 900_000) }), null, {
    ...base,
    statusMtimeMs: now - 900_000,
  });
  assert.equal(reused.state, 'failed');
  assert.match(reused.stale!, /^no heartbeat since/);
  // This host, pid gone: stale at once.
  assert.match(
    effectiveState(status({ host: HOST }), null, { ...base, isAlive: dead }).stale!,
    /process 4242 exited without finishing/,
  );
  // Older writers (no heartbeatSeconds): pid check here; elsewhere a generous limit on the latest write.
  const legacy = status({ heartbeatSeconds: undefined, updatedAt: iso(now - 3600_000) });
  delete legacy.heartbeatSeconds;
  assert.equal(
    effectiveState(legacy, null, {
      ...base,
      statusMtimeMs: now - 3600_000,
      eventsMtimeMs: now - 60_000,
    }).state,
    'running',
  );
  assert.equal(
    effectiveState({ ...legacy, updatedAt: iso(now - 3 * 86400_000) }, null, {
      ...base,
      statusMtimeMs: now - 3 * 86400_000,
    }).state,
    'failed',
  );
  assert.equal(
    effectiveState({ ...legacy, host: HOST, updatedAt: iso(now - 3 * 86400_000) }, null, {
      ...base,
      statusMtimeMs: now - 3 * 86400_000,
    }).state,
    'running',
    'pid alive here',
  );
  // Queued placeholders: owner (the extension host that queued it) gone → stale; heartbeat expired → stale.
  const q = status({
    state: 'queued',
    host: HOST,
    pid: 999999,
    heartbeatSeconds: 30,
    updatedAt: iso(now),
  });
  const gone = effectiveState(q, null, { ...base, isAlive: dead, statusMtimeMs: now });
  assert.equal(gone.state, 'failed');
  assert.match(gone.stale!, /the window that queued it \(process 999999\) is gone/);
  assert.equal(effectiveState(q, null, { ...base, statusMtimeMs: now }).state, 'queued');
  assert.equal(
    effectiveState({ ...q, host: 'elsewhere', updatedAt: iso(now - 600_000) }, null, {
      ...base,
      statusMtimeMs: now - 600_000,
    }).state,
    'failed',
  );
  // A terminal state is never second-guessed.
  assert.equal(
    effectiveState(status({ state: 'completed', updatedAt: iso(0) }), null, base).state,
    'completed',
  );
});

test('runInfo of a crafted running run on another host reads as stale from its old updatedAt', () => {
  const root = tmpDir('fl-untrusted-');
  const dir = makeRun(root, 'cloned');
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify(status({ runId: 'cloned', updatedAt: iso(Date.now() - 3600_000) })),
  );
  fs.rmSync(path.join(dir, 'summary.json'));
  const info = runInfo(dir);
  assert.equal(info.state, 'failed');
  assert.match(info.stale!, /^no heartbeat since .* \(host elsewhere\)$/);
  assert.equal(
    JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')).state,
    'running',
    'the reader never writes',
  );
});

test('listing skips symlinked run folders and names that are not run ids; run files are not read through symlinks', () => {
  const root = tmpDir('fl-untrusted-');
  const outside = tmpDir('fl-outside-');
  makeRun(outside, 'elsewhere-run');
  makeRun(root, 'real');
  fs.symlinkSync(path.join(outside, 'elsewhere-run'), path.join(root, 'linked'));
  makeRun(root, '[x](command:workbench.action.terminal.new)');
  const skipped: string[] = [];
  const ids = listRuns(root, { onSkip: (name, why) => skipped.push(`${name}: ${why}`) }).map(
    (r) => r.id,
  );
  assert.deepEqual(ids, ['real']);
  assert.ok(skipped.some((s) => /^linked: a symbolic link/.test(s)));
  assert.ok(skipped.some((s) => /^\[x\]\(command:.*not a run id/.test(s)));
  // status.json as a symlink (to a FIFO-like or foreign file) is not followed.
  const dir = path.join(root, 'real');
  fs.rmSync(path.join(dir, 'status.json'));
  fs.symlinkSync('/dev/zero', path.join(dir, 'status.json'));
  const info = runInfo(dir);
  assert.ok(
    info.problems.some((p) => /^status\.json: .*symbolic link/.test(p)),
    info.problems.join('\n'),
  );
});

test('EventsFileReader: tiny chunks split lines and multi-byte characters; results equal one big read', () => {
  const dir = tmpDir('fl-chunks-');
  const file = path.join(dir, 'events.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < 50; i++)
    lines.push(JSON.stringify({ type: 'log', t: i, level: 'info', message: `λμ€😀 ${i}` }));
  fs.writeFileSync(file, lines.join('\n') + '\n');
  const r = new EventsFileReader(file, 7);
  const got: string[] = [];
  let calls = 0;
  for (;;) {
    const x = r.read();
    calls++;
    got.push(...x.events.map((e) => (e as { message: string }).message));
    assert.deepEqual(x.corruptLines, []);
    if (!x.more) break;
  }
  assert.ok(calls > 100, 'read in many small chunks');
  assert.equal(got.length, 50);
  assert.equal(got[49], 'λμ€😀 49');
  assert.equal(r.offset, fs.statSync(file).size);
});

/** Write a ~`mb` MB events.jsonl: steps every step, Tr(F) every 10 steps with one spike, a few detector events. */
function bigEventsFile(
  dir: string,
  mb: number,
): {
  fisher: number;
  maxTrF: number;
  maxStep: number;
  detectors: number;
  lastPeak: number;
  bytes: number;
} {
  const file = path.join(dir, 'events.jsonl');
  const fd = fs.openSync(file, 'w');
  const t0 = 1_700_000_000_000;
  const header = {
    type: 'header',
    t: t0,
    schemaVersion: 1,
    runId: 'big',
    backend: 'cpu',
    backendRejections: [],
    dataset: {
      name: 'synthetic',
      trainSize: 1000,
      testSize: 100,
      inputShape: [8, 8, 1],
      numClasses: 10,
      noisyCount: 0,
    },
    model: { arch: 'mlp', paramCount: 100 },
    seed: 0,
    stepsPerEpoch: 10,
    totalSteps: 1e7,
    host: 'h',
    pid: 1,
    version: 'x',
  };
  let bytes = 0;
  let buf = JSON.stringify(header) + '\n';
  let fisher = 0;
  let detectors = 0;
  let lastPeak = -1;
  let maxTrF = -Infinity;
  let maxStep = -1;
  const target = mb * 1024 * 1024;
  let spiked = false; // one Tr(F) spike, half-way through the file
  for (let step = 1; bytes < target; step++) {
    buf +=
      JSON.stringify({
        type: 'step',
        t: t0 + step * 10,
        step,
        epoch: step / 10,
        loss: 2 / Math.sqrt(step) + 0.01 * Math.sin(step),
        lr: 0.01,
        penalty: null,
        gradNorm: 1 + Math.cos(step / 7),
        examplesPerSec: 5000,
      }) + '\n';
    if (step % 10 === 0) {
      const spike = !spiked && bytes + buf.length >= target * 0.5;
      if (spike) spiked = true;
      const trF = spike ? 1e6 : 10 + Math.sin(step / 1000);
      buf +=
        JSON.stringify({
          type: 'fisher',
          t: t0 + step * 10,
          step,
          epoch: step / 10,
          trF,
          trFStderr: 0.1,
          probeSize: 16,
          trFB: 1,
          ms: 3,
        }) + '\n';
      fisher++;
      if (trF > maxTrF) {
        maxTrF = trF;
        maxStep = step;
      }
    }
    if (step % 100_000 === 0) {
      buf +=
        JSON.stringify({
          type: 'detector',
          t: t0 + step * 10,
          step,
          kind: 'peak',
          value: 11,
          message: `peak ${step}`,
        }) + '\n';
      detectors++;
      lastPeak = step;
    }
    if (buf.length > 1 << 20) {
      bytes += fs.writeSync(fd, buf);
      buf = '';
    }
  }
  bytes += fs.writeSync(fd, buf);
  fs.closeSync(fd);
  return { fisher, maxTrF, maxStep, detectors, lastPeak, bytes };
}

test('a ~50 MB events.jsonl: read in chunks without blocking, bounded history, small view, every Tr(F) point and the maximum survive', async (tc) => {
  const dir = tmpDir('fl-big-');
  const made = bigEventsFile(dir, 50);
  assert.ok(made.bytes > 48 * 1024 * 1024);
  const series = createSeries('big');
  let batches = 0;
  let progress = 0;
  let maxGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const t = performance.now();
    maxGap = Math.max(maxGap, t - last);
    last = t;
  }, 5);
  const tailer = new RunTailer(
    dir,
    {
      onEvents: (events) => {
        batches++;
        appendEvents(series, events);
        boundSeries(series, HOST_MAX_POINTS);
      },
      onProgress: () => progress++,
      onError: (e) => assert.fail(e),
    },
    { pollMs: 0 },
  );
  tc.after(() => {
    tailer.dispose();
    clearInterval(ticker);
  });
  await tailer.ready;
  clearInterval(ticker);
  assert.ok(batches >= 10, `delivered in chunks (${batches})`);
  assert.ok(progress > 0, 'progress reported');
  assert.ok(
    maxGap < 1000,
    `event loop never blocked for long (longest gap ${maxGap.toFixed(0)} ms)`,
  );
  // Host history: bounded; every fisher point kept (fewer than the cap), and the steps table compacted.
  assert.ok(series.steps.step.length <= HOST_MAX_POINTS);
  assert.equal(series.fisher.trF.length, made.fisher, 'all fisher events kept');
  assert.equal(Math.max(...(series.fisher.trF as number[])), made.maxTrF);
  // Every `peak` event replaces the previous one: one early peak, one marker (the latest).
  assert.ok(made.detectors > 1);
  assert.equal(series.markers.length, 1);
  assert.equal(series.markers[0].message, `peak ${made.lastPeak}`);
  // The view: small whatever the file size, the Tr(F) maximum and the loss extremes kept; a valid message.
  const view = viewSeries(series);
  for (const tab of [view.steps, view.fisher, view.evals])
    assert.ok(tab.step.length <= VIEW_MAX_POINTS);
  const i = (view.fisher.trF as number[]).indexOf(made.maxTrF);
  assert.ok(i >= 0, 'the Tr(F) maximum is in the view');
  assert.equal(view.fisher.step[i], made.maxStep);
  const lossAll = series.steps.loss as number[];
  assert.equal(
    Math.max(...(view.steps.loss as number[])),
    Math.max(...lossAll),
    'the loss maximum survives',
  );
  const msg = {
    type: 'snapshot',
    runId: 'big',
    series: view,
    config: null,
    state: 'running',
    summary: null,
  };
  assert.ok(validateToMonitor(msg).ok);
  const bytes = Buffer.byteLength(JSON.stringify(msg));
  assert.ok(bytes < 2_500_000, `snapshot ${bytes} bytes`);
  assert.equal(made.maxTrF, 1e6);
});
