/** The training loop in-process: tensor count stays flat, exceptions give `failed`, abort gives `stopped`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../../src/shared/config';
import { train } from '../../src/trainer/train';
import { learningRate } from '../../src/trainer/schedule';
import { tfjs } from '../../src/trainer/backend';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-trainer-'));
const cfg = (over: Record<string, unknown> = {}) =>
  resolveConfig({
    dataset: { name: 'synthetic', trainSize: 512, testSize: 128, syntheticShape: [12, 12, 1], syntheticClasses: 4 },
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

test('no tensor leak over 200 steps with Tr(F), the penalty and evaluation', { timeout: 120_000 }, async () => {
  const counts: number[] = [];
  const s = await train({ config: cfg(), runsRoot: root, runId: 'leak', afterStep: () => counts.push(tfjs().memory().numTensors) });
  assert.equal(s.state, 'completed', s.error ?? '');
  assert.equal(counts.length, 200);
  // After the first penalty computation the cached penalty gradients exist; from then on the count is flat.
  const settled = counts.slice(20);
  assert.equal(Math.max(...settled), Math.min(...settled), `tensor count varies: ${Math.min(...settled)}..${Math.max(...settled)}`);
  const events = fs.readFileSync(path.join(root, 'leak', 'events.jsonl'), 'utf8');
  assert.ok(!events.includes('tensors were not released'));
});

test('every penalty kind trains to completion with a finite penalty value', { timeout: 120_000 }, async () => {
  for (const kind of ['gp', 'gpr', 'gpx'] as const) {
    const s = await train({ config: cfg({ schedule: { steps: 30 }, penalty: { kind, alpha: 0.01, every: 10 } }), runsRoot: root, runId: `pen-${kind}` });
    assert.equal(s.state, 'completed', `${kind}: ${s.error}`);
    const steps = fs.readFileSync(path.join(root, `pen-${kind}`, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'step');
    assert.ok(steps.every((e) => Number.isFinite(e.penalty) && e.penalty >= 0), kind);
  }
});

test('an exception during training ends the run as failed with the message, status and summary written', { timeout: 60_000 }, async () => {
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
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'boom', 'summary.json'), 'utf8')).state, 'failed');
});

test('aborting stops after the current step', { timeout: 60_000 }, async () => {
  const ac = new AbortController();
  const s = await train({ config: cfg({ schedule: { steps: 10000 } }), runsRoot: root, runId: 'abort', signal: ac.signal, afterStep: (st) => { if (st === 12) ac.abort(); } });
  assert.equal(s.state, 'stopped');
  assert.equal(s.steps, 12);
});

test('a run directory is never overwritten', { timeout: 60_000 }, async () => {
  await assert.rejects(train({ config: cfg({ schedule: { steps: 3 } }), runsRoot: root, runId: 'boom' }), /already exists/);
  assert.equal(JSON.parse(fs.readFileSync(path.join(root, 'boom', 'status.json'), 'utf8')).state, 'failed');
});

test('a model that does not fit the input is a config error naming the field, before anything is written', async () => {
  await assert.rejects(train({ config: cfg({ dataset: { name: 'synthetic', trainSize: 64, testSize: 16, syntheticShape: [8, 8, 1] } }), runsRoot: root, runId: 'small-input' }), /model: simplecnn needs inputs of at least 12×12/);
  assert.ok(!fs.existsSync(path.join(root, 'small-input')));
});

test('learning-rate schedules', () => {
  const c = cfg({ optimizer: { lr: 1, batchSize: 32 }, schedule: { steps: 100, lrSchedule: 'step', milestones: [0.5, 0.75], gamma: 0.1 } });
  assert.equal(learningRate(c, 0, 100), 1);
  assert.equal(learningRate(c, 49, 100), 1);
  assert.ok(Math.abs(learningRate(c, 50, 100) - 0.1) < 1e-12);
  assert.ok(Math.abs(learningRate(c, 80, 100) - 0.01) < 1e-12);
  const cos = cfg({ optimizer: { lr: 2, batchSize: 32 }, schedule: { steps: 100, lrSchedule: 'cosine' } });
  assert.equal(learningRate(cos, 0, 100), 2);
  assert.ok(Math.abs(learningRate(cos, 50, 100) - 1) < 1e-12);
});
