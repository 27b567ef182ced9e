/**
 * `reproduce` end to end with the real trainer on tiny synthetic set-ups (seconds, not minutes): real run
 * directories under <out>/runs, η* from a real LR search, a report whose figures exist, and a rerun that trains
 * nothing. Then the CLI's `reproduce --dry-run` through the built bundle. The real `--quick` on MNIST
 * (~5–10 min) runs from .ci/run, not here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { reproduce } from '../../src/reproduce/orchestrate';
import { trainRunner } from '../../src/cli';
import {
  allRunIds,
  parseDatasetArg,
  type ReproOptions,
  type Setup,
} from '../../src/reproduce/plan';

const root = path.resolve(__dirname, '..', '..');
const tiny: Partial<Setup> = {
  dataset: { name: 'synthetic', label: 'synthetic', trainSize: 256, testSize: 128 },
  model: { arch: 'mlp', hidden: [32] },
  batchSize: 32,
  steps: 40,
  noiseSteps: 40,
  noiseLength: { target: 0.5, maxSteps: 80 },
  alphaSearch: { grid: [0.1], noiseGrid: [0.1] },
  seeds: [0],
  search: { grid: [0.05, 0.2], seed: 1000 },
  bFactors: [1, 0.316, 0.1],
  penalties: ['fisher'],
  noiseFractions: [0.25],
  noiseTrackSize: 32,
  fisher: { every: 5, probeSize: 32, lossThreshold: 1.5, warmupSteps: 5 },
  evalEvery: 20,
  backend: 'wasm',
};

test(
  'reproduce with the real trainer: runs, report, and a rerun that skips everything',
  { timeout: 240_000 },
  async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-repro-int-'));
    const opts: ReproOptions & { out: string } = {
      dataset: parseDatasetArg('synthetic'),
      quick: true,
      seeds: 1,
      setup: tiny,
      out,
    };
    const r = await reproduce(opts, { runner: trainRunner });
    // 2 LR search runs; FP's α search (η*/10 and α 0.1); the (e) length rule (40 steps, 80 if not memorised)
    // and FP's α search at that length; then η*, η*/3.16, η*/10, η*/10+FP and the two noisy runs.
    const all = allRunIds(r.plan);
    assert.deepEqual([...r.trained].sort(), [...all].sort());
    assert.ok(all.length === 12 || all.length === 13, all.join(', '));
    assert.equal(r.plan.noiseLengths.length, 1);
    assert.ok(['memorised', 'budget'].includes(r.plan.noiseLengths[0].endedBy));
    for (const id of r.trained) {
      const dir = path.join(out, 'runs', id);
      for (const f of ['config.json', 'events.jsonl', 'status.json', 'summary.json'])
        assert.ok(fs.existsSync(path.join(dir, f)), `${id}/${f}`);
      assert.equal(
        JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).state,
        'completed',
        id,
      );
    }
    assert.ok([0.05, 0.2].includes(r.plan.etaStar));
    const fp = r.results[r.plan.runs.find((x) => x.penalty === 'fisher' && x.noise === 0)!.id];
    assert.ok(fp.trF.step.length >= 8, 'Tr(F) curve recorded');
    const noisy = r.results[r.plan.runs.find((x) => x.noise > 0)!.id];
    assert.ok(
      noisy.evals.noisyAcc.some((v) => v !== null),
      'noisy-subset accuracy recorded',
    );
    const md = fs.readFileSync(r.reportPath, 'utf8');
    for (const s of ['## (a)', '## (b)', '## (c)', '## (e)']) assert.ok(md.includes(s), s);
    assert.equal((md.match(/\*\*Verdict: /g) ?? []).length, 4);
    for (const m of md.matchAll(/\]\((figures\/[^)]+)\)/g))
      assert.ok(fs.existsSync(path.join(out, m[1])), m[1]);

    const again = await reproduce(opts, { runner: trainRunner });
    assert.deepEqual(again.trained, []);
    assert.equal(again.skipped.length, all.length);
    assert.equal(
      fs
        .readFileSync(again.reportPath, 'utf8')
        .split('\n')
        .filter((l) => l.includes('Verdict'))
        .join('\n'),
      md
        .split('\n')
        .filter((l) => l.includes('Verdict'))
        .join('\n'),
    );
  },
);

test(
  'the CLI exposes `reproduce` (dry run lists the plan, bad --dataset is a usage error)',
  { timeout: 120_000 },
  () => {
    const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
      cwd: root,
      encoding: 'utf8',
    });
    assert.equal(b.status, 0, b.stderr);
    const bin = path.join(root, 'bin', 'fisher-lens.js');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-repro-cli-'));
    const r = spawnSync(
      process.execPath,
      [bin, 'reproduce', '--quick', '--dry-run', '--out', out],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /LR search: \d+ runs/);
    assert.match(r.stdout, /\(e\) Fisher penalty limits memorisation/);
    assert.deepEqual(fs.readdirSync(out), [], 'a dry run trains nothing');
    const bad = spawnSync(
      process.execPath,
      [bin, 'reproduce', '--dataset', 'imagenet', '--dry-run'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /expected mnist, fashion-mnist/);
  },
);
