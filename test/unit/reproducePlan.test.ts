/** The declarative reproduction plan: options → set-up → run specs grouped by claim; η* rule; dataset flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildPlan,
  parseDatasetArg,
  pickEtaStar,
  searchRuns,
  setupFor,
} from '../../src/reproduce/plan';

const quick = setupFor({ dataset: parseDatasetArg('mnist'), quick: true });
const full = setupFor({ dataset: parseDatasetArg('mnist'), quick: false });

test('--dataset accepts every dataset the trainer reads and rejects anything else', () => {
  assert.deepEqual(parseDatasetArg('fashion-mnist'), {
    name: 'fashion-mnist',
    label: 'fashion-mnist',
  });
  assert.deepEqual(parseDatasetArg('idx:/data/kmnist/'), {
    name: 'idx',
    path: '/data/kmnist/',
    label: 'idx-kmnist',
  });
  assert.equal(parseDatasetArg('cifar10:data/cifar-10-batches-bin').name, 'cifar10');
  assert.equal(parseDatasetArg('cifar100:x').name, 'cifar100');
  assert.throws(() => parseDatasetArg('imagenet'), /expected mnist, fashion-mnist/);
});

test('the plan is a pure function of options and η*: same inputs, same run ids and configs', () => {
  assert.deepEqual(
    buildPlan(quick, 0.1),
    buildPlan(setupFor({ dataset: parseDatasetArg('mnist'), quick: true }), 0.1),
  );
});

test('runs shared by claims are planned once, and each claim has its arms per seed', () => {
  const plan = buildPlan(full, 0.1);
  const ids = plan.runs.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'no duplicate run ids');
  const a = plan.claims.find((c) => c.claim === 'a')!;
  const c = plan.claims.find((c) => c.claim === 'c')!;
  const b = plan.claims.find((c) => c.claim === 'b')!;
  assert.deepEqual(
    a.arms.map((x) => x.runIds),
    c.arms.slice(0, 2).map((x) => x.runIds),
    '(a) and (c) share η* and η*/10',
  );
  assert.ok(
    b.arms.some((x) => x.lr === 0.1) && b.arms.some((x) => x.lr === 0.01),
    '(b) includes η* and η*/10',
  );
  for (const cl of plan.claims)
    for (const arm of cl.arms) assert.equal(arm.runIds.length, full.seeds.length);
  assert.deepEqual(
    c.arms.slice(2).map((x) => x.penalty),
    ['fisher', 'gp', 'gpr', 'gpx'],
  );
  const e = plan.claims.find((c) => c.claim === 'e')!;
  assert.deepEqual(
    e.arms.map((x) => [x.noise, x.penalty]),
    [
      [0.25, 'none'],
      [0.25, 'fisher'],
      [0.5, 'none'],
      [0.5, 'fisher'],
    ],
  );
  // Every referenced id is a planned run.
  for (const cl of plan.claims)
    for (const arm of cl.arms) for (const id of arm.runIds) assert.ok(ids.includes(id), id);
});

test('run configs are ordinary resolved run configs carrying the arm', () => {
  const plan = buildPlan(quick, 0.1);
  const fp = plan.runs.find((r) => r.penalty === 'fisher' && r.noise === 0)!;
  assert.equal(fp.config.optimizer.lr, 0.01);
  assert.equal(fp.config.penalty.kind, 'fisher');
  assert.equal(fp.config.penalty.every, 10);
  assert.equal(fp.config.name, fp.id);
  const noisy = plan.runs.find((r) => r.noise === 0.25 && r.penalty === 'none')!;
  assert.equal(noisy.config.labelNoise.fraction, 0.25);
  assert.equal(noisy.config.schedule.steps, quick.noiseSteps);
  assert.match(noisy.id, new RegExp(`^lr0\\.01-n25-t${quick.noiseSteps}-s0$`));
  assert.match(fp.id, /^lr0\.01-fp-a[0-9.]+-s0$/, 'the id names α');
});

test('nothing is MNIST-specific: the dataset choice flows into every run', () => {
  const s = setupFor({ dataset: parseDatasetArg('cifar100:/data/c100'), quick: true });
  const plan = buildPlan(s, 0.05);
  for (const r of [...searchRuns(s), ...plan.runs]) {
    assert.equal(r.config.dataset.name, 'cifar100');
    assert.equal(r.config.dataset.path, '/data/c100');
  }
  assert.ok(s.fisher.lossThreshold > full.fisher.lossThreshold, 'ε scales with ln K (100 classes)');
});

test('--quick is smaller than the full set-up on every axis', () => {
  assert.ok(quick.steps < full.steps && quick.noiseSteps < full.noiseSteps);
  assert.ok(quick.seeds.length < full.seeds.length);
  assert.ok(buildPlan(quick, 0.1).runs.length < buildPlan(full, 0.1).runs.length);
  assert.equal(
    setupFor({ dataset: parseDatasetArg('mnist'), quick: true, seeds: 4 }).seeds.length,
    4,
  );
});

test('η*: best final test accuracy, ties within 0.5 pp go to the larger LR, diverged runs ignored', () => {
  const r = (lr: number, acc: number | null, state = 'completed') => ({
    lr,
    state,
    finalTestAcc: acc,
  });
  assert.equal(pickEtaStar([r(0.01, 0.9), r(0.05, 0.93), r(0.1, 0.92)]), 0.05);
  assert.equal(pickEtaStar([r(0.01, 0.9), r(0.05, 0.93), r(0.1, 0.926)]), 0.1);
  assert.equal(pickEtaStar([r(0.05, 0.93), r(0.4, null, 'diverged')]), 0.05);
  assert.throws(() => pickEtaStar([r(0.4, null, 'diverged')]), /cannot choose η\*/);
});
