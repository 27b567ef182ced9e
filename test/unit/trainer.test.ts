/**
 * The training loop in-process: tensor count stays flat, exceptions give `failed`, abort gives `stopped`, write
 * errors give `failed` naming the file; the divergence rule as a pure function; probe recording.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/shared/config';
import { train } from '../../src/trainer/train';
import { learningRate } from '../../src/trainer/schedule';
import { tfjs } from '../../src/trainer/backend';
import { checkDivergence, DivergenceMonitor } from '../../src/trainer/divergence';
import { writeFaults } from '../../src/runs/writer';
import { readRun } from '../../src/runs/reader';
import { Rng, deriveSeed } from '../../src/shared/rng';
import { loadDataset } from '../../src/trainer/data';
import { fisherTrace, loadModel } from '../../src/core';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-trainer-'));
const cfg = (over: Record<string, unknown> = {}) =>
  resolveConfig({
    dataset: {
      name: 'synthetic',
      trainSize: 512,
      testSize: 128,
      syntheticShape: [12, 12, 1],
      syntheticClasses: 4,
    },
    model: { arch: 'simplecnn', width: 0.25 },
    optimizer: { lr: 0.05, batchSize: 32 },
    schedule: { steps: 200 },
    fisher: { every: 7, probeSize: 16, warmupSteps: 5 },
    labelNoise: { fraction: 0.2, trackSize: 32 },
    penalty: { kind: 'fisher', alpha: 0.01, every: 10 },
    evalEvery: 50,
    backend: 'wasm',
    ...over,
  });

test(
  'no tensor leak over 200 steps with Tr(F), the penalty and evaluation',
  { timeout: 120_000 },
  async () => {
    const counts: number[] = [];
    const s = await train({
      config: cfg(),
      runsRoot: root,
      runId: 'leak',
      afterStep: () => counts.push(tfjs().memory().numTensors),
    });
    assert.equal(s.state, 'completed', s.error ?? '');
    assert.equal(counts.length, 200);
    // After the first penalty computation the cached penalty gradients exist; from then on the count is flat.
    const settled = counts.slice(20);
    assert.equal(
      Math.max(...settled),
      Math.min(...settled),
      `tensor count varies: ${Math.min(...settled)}..${Math.max(...settled)}`,
    );
    const events = fs.readFileSync(path.join(root, 'leak', 'events.jsonl'), 'utf8');
    assert.ok(!events.includes('tensors were not released'));
  },
);

test(
  'every penalty kind trains to completion with a finite penalty value',
  { timeout: 120_000 },
  async () => {
    for (const kind of ['gp', 'gpr', 'gpx'] as const) {
      const s = await train({
        config: cfg({ schedule: { steps: 30 }, penalty: { kind, alpha: 0.01, every: 10 } }),
        runsRoot: root,
        runId: `pen-${kind}`,
      });
      assert.equal(s.state, 'completed', `${kind}: ${s.error}`);
      const steps = fs
        .readFileSync(path.join(root, `pen-${kind}`, 'events.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((e) => e.type === 'step');
      assert.ok(
        steps.every((e) => Number.isFinite(e.penalty) && e.penalty >= 0),
        kind,
      );
    }
  },
);

test(
  'an exception during training ends the run as failed with the message, status and summary written',
  { timeout: 60_000 },
  async () => {
    const s = await train({
      config: cfg({ schedule: { steps: 50 } }),
      runsRoot: root,
      runId: 'boom',
      afterStep: (step) => {
        if (step === 5) throw new Error('simulated failure at step 5');
      },
    });
    assert.equal(s.state, 'failed');
    assert.match(s.error ?? '', /simulated failure at step 5/);
    const status = JSON.parse(fs.readFileSync(path.join(root, 'boom', 'status.json'), 'utf8'));
    assert.equal(status.state, 'failed');
    assert.match(status.error, /simulated failure/);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(root, 'boom', 'summary.json'), 'utf8')).state,
      'failed',
    );
  },
);

test('aborting stops after the current step', { timeout: 60_000 }, async () => {
  const ac = new AbortController();
  const s = await train({
    config: cfg({ schedule: { steps: 10000 } }),
    runsRoot: root,
    runId: 'abort',
    signal: ac.signal,
    afterStep: (st) => {
      if (st === 12) ac.abort();
    },
  });
  assert.equal(s.state, 'stopped');
  assert.equal(s.steps, 12);
});

test('a run directory is never overwritten', { timeout: 60_000 }, async () => {
  await assert.rejects(
    train({ config: cfg({ schedule: { steps: 3 } }), runsRoot: root, runId: 'boom' }),
    /already exists/,
  );
  assert.equal(
    JSON.parse(fs.readFileSync(path.join(root, 'boom', 'status.json'), 'utf8')).state,
    'failed',
  );
});

test('a model that does not fit the input is a config error naming the field, before anything is written', async () => {
  await assert.rejects(
    train({
      config: cfg({
        dataset: { name: 'synthetic', trainSize: 64, testSize: 16, syntheticShape: [8, 8, 1] },
      }),
      runsRoot: root,
      runId: 'small-input',
    }),
    /model: simplecnn needs inputs of at least 12×12/,
  );
  assert.ok(!fs.existsSync(path.join(root, 'small-input')));
});

test('learning-rate schedules', () => {
  const c = cfg({
    optimizer: { lr: 1, batchSize: 32 },
    schedule: { steps: 100, lrSchedule: 'step', milestones: [0.5, 0.75], gamma: 0.1 },
  });
  assert.equal(learningRate(c, 0, 100), 1);
  assert.equal(learningRate(c, 49, 100), 1);
  assert.ok(Math.abs(learningRate(c, 50, 100) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(c, 80, 100) - 0.01) < 1e-12);
  const cos = cfg({
    optimizer: { lr: 2, batchSize: 32 },
    schedule: { steps: 100, lrSchedule: 'cosine' },
  });
  assert.equal(learningRate(cos, 0, 100), 2);
  assert.ok(Math.abs(learningRate(cos, 50, 100) - 1) < 1e-12);
});

test('divergence rule: a healthy but spiky loss never trips it', () => {
  const rng = new Rng(7, 'spiky');
  const K = 10;
  const ln = Math.log(K);
  const losses: number[] = [];
  for (let s = 0; s < 5000; s++) {
    let l = ln * Math.exp(-s / 400) + 0.02 + 0.3 * Math.abs(rng.normal()) * Math.exp(-s / 1000);
    if (s % 97 === 13) l = 10 ** (2 + (s % 7)); // isolated spikes up to 1e8, every ~100 steps
    if (s % 233 === 0 && s > 0) l *= 50; // more isolated spikes
    if (s >= 1200 && s < 1240) l = 20 * ln; // a 40-step catapult far above every threshold
    if (s >= 3000 && s < 3300) l = 3 * ln; // a long bump to 3 ln K after the loss was tiny: below the 4 ln K floor
    losses.push(l);
  }
  assert.equal(checkDivergence(losses, { numClasses: K }), null);
  // A long plateau at chance level (deep nets without normalisation), then learning.
  const plateau = Array.from({ length: 2000 }, (_, s) =>
    s < 1500 ? ln + 0.05 * rng.normal() : ln * Math.exp(-(s - 1500) / 100),
  );
  assert.equal(checkDivergence(plateau, { numClasses: K }), null);
  // A large initialisation: loss starts at 40 ln K and comes down slowly (judged against its own level).
  const highInit = Array.from({ length: 2000 }, (_, s) => 40 * ln * Math.exp(-s / 300) + 0.1);
  assert.equal(checkDivergence(highInit, { numClasses: K }), null);
  // Two spikes in a row inside a full window do not move the median either.
  const pairs = Array.from({ length: 1000 }, (_, s) => (s % 50 < 2 && s > 100 ? 1e12 : 0.5));
  assert.equal(checkDivergence(pairs, { numClasses: K }), null);
});

test('divergence rule: non-finite, runaway and sustained blow-ups trip it, for any class count', () => {
  for (const K of [2, 10, 100]) {
    const ln = Math.log(K);
    const nan = checkDivergence([ln, ln, NaN], { numClasses: K });
    assert.deepEqual([nan?.rule, nan?.step], ['non-finite', 3]);
    assert.equal(checkDivergence([ln, Infinity], { numClasses: K })?.rule, 'non-finite');
    // Runaway: the loss multiplies by 10 each step (lr 100 on MNIST: 2.4, 1.6e3, 3.9e6, 3.2e9 …).
    const runaway = Array.from({ length: 50 }, (_, s) => ln * 10 ** s);
    const r = checkDivergence(runaway, { numClasses: K });
    assert.equal(r?.rule, 'absolute');
    assert.ok(r!.step < 20, `runaway caught at step ${r!.step}`);
    // Sustained: from ln K up to ~60 ln K and staying there (never non-finite, never 1e6 ln K).
    const sustained = Array.from({ length: 400 }, (_, s) =>
      s < 20 ? ln : 60 * ln * (1 + 0.5 * Math.sin(s)),
    );
    const v = checkDivergence(sustained, { numClasses: K });
    assert.equal(v?.rule, 'sustained');
    assert.ok(v!.step >= 100 && v!.step <= 140, `sustained caught at step ${v!.step}`);
    assert.match(
      v!.message,
      /^training diverged at step \d+: the training loss \(median of the last 25 steps\) has stayed above/,
    );
    // Blown up, then stuck at ~10 ln K with noise (MNIST MLP at lr 20): 2.5× above the 4 ln K threshold.
    const stuck = Array.from({ length: 400 }, (_, s) =>
      s < 3 ? ln : s < 6 ? 1e4 * ln : 10 * ln * Math.exp(0.4 * Math.sin(7 * s)),
    );
    assert.equal(checkDivergence(stuck, { numClasses: K })?.rule, 'sustained');
  }
  // The gradient norm counts too.
  assert.equal(new DivergenceMonitor({ numClasses: 10 }).add(1, 2.3, NaN)?.rule, 'non-finite');
});

test(
  'a write error mid-run (injected ENOSPC) ends the run failed naming the file, no temporary files, folder readable',
  { timeout: 60_000 },
  async () => {
    let writes = 0;
    writeFaults.beforeWrite = (file) => {
      if (file === 'events.jsonl' && ++writes > 15)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
          code: 'ENOSPC',
        });
    };
    let s;
    try {
      s = await train({
        config: cfg({
          model: { arch: 'mlp', hidden: [16] },
          schedule: { steps: 400 },
          penalty: { kind: 'none' },
        }),
        runsRoot: root,
        runId: 'enospc',
      });
    } finally {
      writeFaults.beforeWrite = null;
    }
    assert.equal(s.state, 'failed');
    assert.equal(s.error, 'events.jsonl: no space left on device (ENOSPC)');
    assert.ok(s.steps < 400, 'stopped at the failure');
    const dir = path.join(root, 'enospc');
    const r = readRun(dir);
    assert.equal(r.status!.state, 'failed');
    assert.equal(r.status!.error, 'events.jsonl: no space left on device (ENOSPC)');
    assert.equal(r.summary!.state, 'failed');
    assert.deepEqual(r.corruptLines, []);
    assert.equal(r.tornTail, false, 'the failed write was truncated away');
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('tmp')),
      [],
    );
    assert.ok(!fs.existsSync(path.join(dir, 'checkpoint')));
  },
);

test(
  "the run records its probe set and each measurement's label seed",
  { timeout: 60_000 },
  async () => {
    const c = cfg({
      model: { arch: 'mlp', hidden: [16] },
      schedule: { steps: 20 },
      penalty: { kind: 'none' },
      fisher: { every: 10, probeSize: 16, warmupSteps: 5 },
    });
    await train({ config: c, runsRoot: root, runId: 'probe' });
    const r = readRun(path.join(root, 'probe'));
    assert.equal(r.header!.probe!.split, 'train');
    assert.equal(r.header!.probe!.indices.length, 16);
    assert.deepEqual(
      r.header!.probe!.indices,
      [...r.header!.probe!.indices].sort((a, b) => a - b),
    );
    assert.deepEqual(
      r.byType.fisher.map((f) => [f.step, f.labelSeed]),
      [0, 10, 20].map((st) => [st, deriveSeed(c.seed, 'fisher', st)]),
    );
  },
);

test(
  'Tr(F) is recomputable from the run folder alone (README "Recomputing Tr(F)")',
  { timeout: 60_000 },
  async () => {
    const c = cfg({
      model: { arch: 'mlp', hidden: [16] },
      schedule: { steps: 30 },
      penalty: { kind: 'none' },
      fisher: { every: 10, probeSize: 24, warmupSteps: 5 },
    });
    await train({ config: c, runsRoot: root, runId: 'recompute' });
    const dir = path.join(root, 'recompute');
    const run = readRun(dir);
    const tf = tfjs();
    // The recipe: the training set as the config loads it, the header's probe indices, the checkpoint (the
    // parameters of the last measurement), and that measurement's labelSeed.
    const data = loadDataset(run.config!.dataset, { seed: run.config!.seed });
    const [h, w, ch] = data.inputShape;
    const dim = h * w * ch;
    const idx = run.header!.probe!.indices;
    const x = new Float32Array(idx.length * dim);
    idx.forEach((j, i) => x.set(data.train.x.subarray(j * dim, (j + 1) * dim), i * dim));
    const last = run.byType.fisher.at(-1)!;
    assert.equal(last.step, 30);
    const model = loadModel(path.join(dir, 'checkpoint'));
    const xt = tf.tensor4d(x, [idx.length, h, w, ch]);
    const f = await fisherTrace(model, xt, { seed: last.labelSeed! });
    xt.dispose();
    model.dispose();
    assert.ok(
      Math.abs(f.trace - last.trF) <= 1e-5 * Math.abs(last.trF),
      `recomputed ${f.trace} vs recorded ${last.trF}`,
    );
    assert.ok(Math.abs(f.stderr - last.trFStderr!) <= 1e-4 * last.trFStderr!);
  },
);

test('idx data: the inferred class count is logged in the run', { timeout: 60_000 }, async () => {
  const dir = path.join(root, 'idx-data');
  fs.mkdirSync(dir, { recursive: true });
  const idxFile = (dims: number[], data: Uint8Array) => {
    const h = Buffer.alloc(4 + 4 * dims.length);
    h[2] = 0x08;
    h[3] = dims.length;
    dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([h, Buffer.from(data)]);
  };
  for (const [split, m] of [
    ['train', 64],
    ['t10k', 16],
  ] as const) {
    fs.writeFileSync(
      path.join(dir, `${split}-images-idx3-ubyte`),
      idxFile(
        [m, 12, 12],
        Uint8Array.from({ length: m * 144 }, (_, k) => (k * 31) % 256),
      ),
    );
    fs.writeFileSync(
      path.join(dir, `${split}-labels-idx1-ubyte`),
      idxFile(
        [m],
        Uint8Array.from({ length: m }, (_, i) => (i % 3) * 2),
      ),
    ); // labels 0, 2, 4
  }
  const c = cfg({
    dataset: { name: 'idx', path: dir, trainSize: 64, testSize: 16 },
    model: { arch: 'mlp', hidden: [8] },
    schedule: { steps: 3 },
    penalty: { kind: 'none' },
    fisher: { every: 10, probeSize: 8, warmupSteps: 1 },
    labelNoise: { fraction: 0 },
    optimizer: { lr: 0.01, batchSize: 16 },
  });
  const s = await train({ config: c, runsRoot: root, runId: 'idx' });
  assert.equal(s.state, 'completed', s.error ?? '');
  const info = readRun(path.join(root, 'idx'))
    .byType.log.filter((l) => l.level === 'info')
    .map((l) => l.message);
  assert.deepEqual(info, [
    'dataset idx: 5 classes inferred from the labels (labels 0..4; the largest label in the loaded examples is 4); 2 of them have no training example: 1, 3',
  ]);
});

test(
  'the heartbeat timer runs during training (the loop yields after every step)',
  { timeout: 60_000 },
  async () => {
    let heartbeats = 0;
    writeFaults.beforeWrite = (file) => {
      if (file === 'status.json') heartbeats++;
    };
    const t0 = Date.now();
    try {
      // Progress rewrites off (statusIntervalMs huge): every status.json write is the timer's heartbeat.
      const s = await train({
        config: cfg({
          model: { arch: 'mlp', hidden: [16] },
          schedule: { steps: 60 },
          penalty: { kind: 'none' },
        }),
        runsRoot: root,
        runId: 'heartbeat',
        writerOptions: { heartbeatSeconds: 0.05, statusIntervalMs: 1e9 },
        afterStep: () => {
          const end = Date.now() + 10; // a 10 ms synchronous step
          while (Date.now() < end);
        },
      });
      assert.equal(s.state, 'completed');
    } finally {
      writeFaults.beforeWrite = null;
    }
    const expected = (Date.now() - t0) / 50;
    assert.ok(
      heartbeats >= Math.min(8, expected / 3),
      `${heartbeats} heartbeats in ${Date.now() - t0} ms`,
    );
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(root, 'heartbeat', 'status.json'), 'utf8'))
        .heartbeatSeconds,
      0.05,
    );
  },
);
