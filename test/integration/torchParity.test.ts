/**
 * Issue 9 parity: the PyTorch engine (torch-cpu) against the tfjs engine (wasm), same config and seed —
 * identical initial parameters (the checkpoints written before the first step, byte for byte), batch indices,
 * probe indices, label noise and sampled labels (the Tr(F) label seeds, `trace --json` labels); the training loss
 * of the first 50 steps, Tr(F), Tr(F_B) and every penalty (FP, GP, GPr, GPx) at those steps to 1e-4 relative;
 * a checkpoint written by one engine gives the same `fisher-lens trace` output in the other.
 * Skipped, with the reason, when no Python with PyTorch is found.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { resolveConfig, type RunConfig } from '../../src/shared/config';
import { deriveSeed } from '../../src/shared/rng';
import type { RunEvent } from '../../src/shared/protocol';
import { train } from '../../src/trainer/train';
import { TfjsEngine } from '../../src/trainer/tfjs/engine';
import { BatchIterator } from '../../src/trainer/data';
import { runCli } from '../../src/cli';
import { engineEnv, engineSourceDir } from '../../src/trainer/torch/python';
import { rel, torchPython } from './torchHelpers';

const { python, skip } = torchPython();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-torch-parity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const TOL = 1e-4;
const STEPS = 50;

function config(over: Record<string, unknown>, backend: 'wasm' | 'torch-cpu'): RunConfig {
  return resolveConfig({
    dataset: { name: 'mnist', trainSize: 512, testSize: 128 },
    model: { arch: 'mlp', hidden: [32] },
    optimizer: { lr: 0.05, momentum: 0.9, batchSize: 32 },
    schedule: { steps: STEPS },
    labelNoise: { fraction: 0.2, seed: 4, trackSize: 64 },
    fisher: { every: 1, probeSize: 32, warmupSteps: 10 },
    evalEvery: 25,
    seed: 7,
    ...over,
    backend,
  });
}

async function runBoth(name: string, over: Record<string, unknown>) {
  const out: Record<string, { events: RunEvent[]; dir: string }> = {};
  for (const backend of ['wasm', 'torch-cpu'] as const) {
    const events: RunEvent[] = [];
    const runId = `${name}-${backend}`;
    await train({
      config: config(over, backend),
      runsRoot: tmp,
      runId,
      python: python!,
      onEvent: (e) => events.push(e),
    });
    out[backend] = { events, dir: path.join(tmp, runId) };
  }
  return out as Record<'wasm' | 'torch-cpu', { events: RunEvent[]; dir: string }>;
}

const of = <T extends RunEvent['type']>(ev: RunEvent[], type: T) =>
  ev.filter((e): e is Extract<RunEvent, { type: T }> => e.type === type);

/**
 * `later`: the tolerance after the first step for quantities that amplify float32 summation-order drift of the
 * parameters (SimpleCNN: a max-pool window whose two largest inputs are within rounding of each other can pick a
 * different maximum once the parameters differ in the last bits); step 0/1 values (identical parameters) and the
 * loss are always held to 1e-4.
 */
function compareRuns(
  a: RunEvent[],
  b: RunEvent[],
  what: string,
  penalty: boolean,
  later = TOL,
): string {
  const [ha, hb] = [of(a, 'header')[0], of(b, 'header')[0]];
  assert.deepEqual(ha.probe, hb.probe, `${what}: probe indices`);
  assert.deepEqual(ha.dataset, hb.dataset, `${what}: dataset (incl. noisyCount)`);
  assert.equal(ha.model.paramCount, hb.model.paramCount);
  assert.equal(hb.engine?.name, 'torch');
  assert.equal(hb.backend, 'torch-cpu');
  const [sa, sb] = [of(a, 'step'), of(b, 'step')];
  assert.equal(sa.length, STEPS);
  assert.equal(sb.length, STEPS);
  let worst = { loss: 0, penalty: 0, trF: 0, trFB: 0 };
  for (let i = 0; i < STEPS; i++) {
    const r = rel(sa[i].loss!, sb[i].loss!);
    assert.ok(r <= TOL, `${what}: loss at step ${i + 1}: ${sa[i].loss} vs ${sb[i].loss}`);
    worst.loss = Math.max(worst.loss, r);
    if (penalty) {
      const p = rel(sa[i].penalty!, sb[i].penalty!);
      assert.ok(
        p <= (i === 0 ? TOL : later),
        `${what}: penalty at step ${i + 1}: ${sa[i].penalty} vs ${sb[i].penalty}`,
      );
      worst.penalty = Math.max(worst.penalty, p);
    }
  }
  const [fa, fb] = [of(a, 'fisher'), of(b, 'fisher')];
  assert.equal(fa.length, fb.length);
  for (let i = 0; i < fa.length; i++) {
    assert.equal(fa[i].step, fb[i].step);
    assert.equal(fa[i].labelSeed, fb[i].labelSeed, `${what}: sampled-label seed at ${fa[i].step}`);
    const r = rel(fa[i].trF!, fb[i].trF!);
    const rb = rel(fa[i].trFB!, fb[i].trFB!);
    const tol = fa[i].step === 0 ? TOL : later;
    assert.ok(r <= tol, `${what}: Tr(F) at step ${fa[i].step}: ${fa[i].trF} vs ${fb[i].trF}`);
    assert.ok(rb <= tol, `${what}: Tr(F_B) at step ${fa[i].step}: ${fa[i].trFB} vs ${fb[i].trFB}`);
    worst = { ...worst, trF: Math.max(worst.trF, r), trFB: Math.max(worst.trFB, rb) };
  }
  const [ea, eb] = [of(a, 'eval'), of(b, 'eval')];
  assert.equal(ea.length, eb.length);
  for (let i = 0; i < ea.length; i++) {
    for (const k of ['testAcc', 'trainAcc', 'cleanAcc', 'noisyAcc'] as const)
      assert.equal(ea[i][k], eb[i][k], `${what}: ${k} at step ${ea[i].step}`);
    assert.ok(rel(ea[i].testLoss!, eb[i].testLoss!) <= TOL);
  }
  return `${what}: worst relative difference loss ${worst.loss.toExponential(1)}, penalty ${worst.penalty.toExponential(1)}, Tr(F) ${worst.trF.toExponential(1)}, Tr(F_B) ${worst.trFB.toExponential(1)}`;
}

const py = (code: string, args: string[]) => {
  const r = spawnSync(python!, ['-c', code, ...args], {
    encoding: 'utf8',
    env: engineEnv(engineSourceDir()!),
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

test(
  'initial parameters: the checkpoints before the first step are byte-identical',
  { skip },
  async () => {
    for (const model of [
      { arch: 'mlp', hidden: [32] },
      { arch: 'simplecnn', width: 0.25 },
    ]) {
      const cfg = config({ model }, 'wasm');
      const ts = path.join(tmp, `init-ts-${model.arch}`);
      fs.mkdirSync(ts);
      const eng = new TfjsEngine();
      const { header } = await eng.start(cfg);
      await eng.saveCheckpoint(ts);
      eng.close();
      const pyDir = path.join(tmp, `init-py-${model.arch}`);
      py(
        'import json,sys\nfrom fisher_lens_engine.models import Model\nfrom fisher_lens_engine.checkpoint import save_params\n' +
          'm = Model(json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))\nsave_params(m, sys.argv[5])',
        [
          JSON.stringify(cfg.model),
          JSON.stringify(header.dataset.inputShape),
          String(header.dataset.numClasses),
          String(cfg.seed),
          pyDir,
        ],
      );
      assert.ok(
        fs
          .readFileSync(path.join(ts, 'params.bin'))
          .equals(fs.readFileSync(path.join(pyDir, 'params.bin'))),
        `${model.arch}: params.bin differs`,
      );
      assert.deepEqual(
        JSON.parse(fs.readFileSync(path.join(ts, 'params.json'), 'utf8')),
        JSON.parse(fs.readFileSync(path.join(pyDir, 'params.json'), 'utf8')),
      );
    }
  },
);

test('batch indices of the first 50 steps are identical', { skip }, () => {
  const seed = deriveSeed(7, 'batches');
  const it = new BatchIterator(512, 32, seed);
  const ts = Array.from({ length: STEPS }, () => Array.from(it.next()));
  const out = py(
    'import json,sys\nfrom fisher_lens_engine.data import BatchIterator\nb = BatchIterator(512, 32, int(sys.argv[1]))\nprint(json.dumps([list(b.next()) for _ in range(50)]))',
    [String(seed)],
  );
  assert.deepEqual(JSON.parse(out), ts);
});

const traced: Record<string, string> = {};

for (const [kind, model] of [
  ['fisher', { arch: 'mlp', hidden: [32] }],
  ['gp', { arch: 'mlp', hidden: [32] }],
  ['gpr', { arch: 'mlp', hidden: [32] }],
  ['gpx', { arch: 'mlp', hidden: [32] }],
  ['fisher', { arch: 'simplecnn', width: 0.25 }],
] as const) {
  const what = `${model.arch} + ${kind}`;
  test(
    `${what}: 50 steps of loss, penalty, Tr(F), Tr(F_B), evaluations agree to 1e-4`,
    { skip },
    async (t) => {
      const cnn = model.arch === 'simplecnn';
      const runs = await runBoth(`${model.arch}-${kind}`, {
        model,
        penalty: { kind, alpha: 0.01, every: cnn ? 10 : 1 },
        // At lr 0.05 the CNN + FP trajectories part after ~20 steps (float32 drift amplified: 3e-4 by step 25,
        // max-pool near-ties); at 0.01 they agree to ~1e-6 — the engines match, the run is chaotic.
        ...(cnn ? { optimizer: { lr: 0.01, momentum: 0.9, batchSize: 32 } } : {}),
        fisher: { every: cnn ? 5 : 1, probeSize: 32, warmupSteps: 10 },
      });
      t.diagnostic(compareRuns(runs.wasm.events, runs['torch-cpu'].events, what, true));
      if (kind === 'fisher' && !cnn) {
        traced.wasm = path.join(runs.wasm.dir, 'checkpoint');
        traced.torch = path.join(runs['torch-cpu'].dir, 'checkpoint');
      }
    },
  );
}

async function traceJson(ckpt: string, backend: string) {
  let out = '';
  const code = await runCli(
    [
      'node',
      'fisher-lens',
      'trace',
      '--checkpoint',
      ckpt,
      '--data',
      'mnist',
      '--count',
      '64',
      '--seed',
      '3',
      '--backend',
      backend,
      '--python',
      python!,
      '--json',
    ],
    { stdout: (s) => void (out += s), stderr: (s) => void (out += s) },
  );
  assert.equal(code, 0, out);
  return JSON.parse(out) as {
    indices: number[];
    perExample: number[];
    perExampleLabels: number[];
    givenLabels: number[];
    labelSeed: number;
    mean: number;
    stderr: number;
    backend: string;
  };
}

test(
  'a checkpoint of either engine traces the same in the other (trace --json)',
  { skip },
  async (t) => {
    assert.ok(traced.wasm && traced.torch, 'the MLP + FP runs wrote checkpoints');
    for (const [who, ckpt] of Object.entries(traced)) {
      const a = await traceJson(ckpt, 'wasm');
      const b = await traceJson(ckpt, 'torch-cpu');
      assert.equal(a.backend, 'wasm');
      assert.equal(b.backend, 'torch-cpu');
      assert.deepEqual(b.indices, a.indices, `${who}: indices`);
      assert.deepEqual(b.perExampleLabels, a.perExampleLabels, `${who}: sampled labels`);
      assert.deepEqual(b.givenLabels, a.givenLabels);
      assert.equal(b.labelSeed, a.labelSeed);
      let worst = 0;
      a.perExample.forEach((v, i) => {
        const r = rel(v, b.perExample[i]);
        worst = Math.max(worst, r);
        assert.ok(r <= TOL, `${who}: per-example norm ${i}: ${v} vs ${b.perExample[i]}`);
      });
      assert.ok(rel(a.mean, b.mean) <= TOL && rel(a.stderr, b.stderr) <= TOL);
      t.diagnostic(
        `checkpoint of ${who}: worst per-example relative difference ${worst.toExponential(1)}`,
      );
    }
  },
);
