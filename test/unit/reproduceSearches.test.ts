/**
 * The rules fixed before any claim run, on synthetic result tables: the α search (ties, every α hurting, failed
 * and missing runs) and the (e) length rule (a baseline that memorises at once, late, never, or fails), then
 * both through the orchestrator with fake worlds (the report says which rule ended each arm).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  alphaSearchRuns,
  decideNoiseLength,
  noiseLengths,
  pickAlpha,
  type LengthTry,
} from '../../src/reproduce/searches';
import { parseDatasetArg, setupFor, type RunSpec } from '../../src/reproduce/plan';
import { reproduce } from '../../src/reproduce/orchestrate';
import { fakeRunner, PAPER_WORLD, type FakeWorld } from '../../src/reproduce/fakeRunner';

const grid = [0.001, 0.01, 0.1];
const ok = (alpha: number, acc: number) => ({ alpha, state: 'completed', finalTestAcc: acc });

test('α: the best test accuracy wins; ties within 0.5 pp go to the larger α', () => {
  assert.deepEqual(
    pickAlpha(grid, [ok(0.001, 0.9), ok(0.01, 0.93), ok(0.1, 0.91)], 0.9).alpha,
    0.01,
  );
  const tie = pickAlpha(grid, [ok(0.001, 0.9), ok(0.01, 0.93), ok(0.1, 0.926)], 0.9);
  assert.equal(tie.alpha, 0.1, '0.4 pp below the best counts as tied');
  assert.equal(tie.found, true);
  assert.match(tie.reason, /α 0\.1: 92\.60% \(best 93\.00%, unpenalised 90\.00%\)/);
});

test('α: a tied α that costs more than 0.5 pp against the unpenalised run is not taken', () => {
  // 0.1 is within 0.5 pp of the best α but 0.6 pp under the unpenalised run; 0.01 is within both.
  const c = pickAlpha(grid, [ok(0.001, 0.8), ok(0.01, 0.898), ok(0.1, 0.894)], 0.9);
  assert.equal(c.alpha, 0.01);
  assert.equal(c.found, true);
});

test('α: when every α hurts, the search found no helpful value and the smallest α is used', () => {
  const c = pickAlpha(grid, [ok(0.001, 0.85), ok(0.01, 0.8), ok(0.1, 0.5)], 0.9);
  assert.equal(c.found, false);
  assert.equal(c.alpha, 0.001);
  assert.match(c.reason, /every α cost accuracy: best 85\.00% against 90\.00% unpenalised/);
});

test('α: failed, diverged and missing runs are not candidates; none completed → not found', () => {
  const c = pickAlpha(
    grid,
    [
      { alpha: 0.1, state: 'diverged', finalTestAcc: null },
      { alpha: 0.01, state: 'failed', finalTestAcc: 0.95 },
      ok(0.001, 0.9),
    ],
    0.9,
  );
  assert.equal(c.alpha, 0.001);
  assert.equal(c.found, true);
  const none = pickAlpha(grid, [{ alpha: 0.1, state: 'missing', finalTestAcc: null }], 0.9);
  assert.deepEqual([none.found, none.alpha], [false, 0.001]);
  assert.match(none.reason, /no α run completed/);
  // Without an unpenalised result only the tie rule applies.
  assert.equal(pickAlpha(grid, [ok(0.01, 0.9), ok(0.1, 0.899)], null).alpha, 0.1);
  assert.throws(() => pickAlpha([], [], null), /empty grid/);
});

test('α search runs: one per grid value and the unpenalised run, on the search seed, ids naming α', () => {
  const s = setupFor({ dataset: parseDatasetArg('synthetic'), quick: true });
  const a = alphaSearchRuns(s, { kind: 'gp', lr: 0.01, noise: 0, steps: s.steps, grid });
  assert.equal(a.base.id, `search-lr0.01-s${s.search.seed}`);
  assert.equal(a.base.config.penalty.kind, 'none');
  assert.deepEqual(
    a.runs.map((r) => [r.spec.id, r.spec.config.penalty.alpha, r.spec.seed]),
    grid.map((g) => [`search-lr0.01-gp-a${g}-s${s.search.seed}`, g, s.search.seed]),
  );
  assert.ok(!s.seeds.includes(s.search.seed), 'no claim uses the search seed');
});

const L = { noiseSteps: 1000, noiseLength: { target: 0.5, maxSteps: 8000 } };
const t = (steps: number, noisyAcc: number | null, state = 'completed'): LengthTry => ({
  steps,
  runId: `r${steps}`,
  state,
  noisyAcc,
});

test('(e) length: doubling lengths within the budget', () => {
  assert.deepEqual(noiseLengths(L), [1000, 2000, 4000, 8000]);
  assert.deepEqual(
    noiseLengths({ noiseSteps: 300, noiseLength: { target: 0.5, maxSteps: 1000 } }),
    [300, 600],
  );
  assert.deepEqual(
    noiseLengths({ noiseSteps: 500, noiseLength: { target: 0.5, maxSteps: 100 } }),
    [500],
  );
});

test('(e) length: a baseline that memorises quickly ends the rule at the first length', () => {
  assert.deepEqual(decideNoiseLength(L, []), { done: false, next: 1000 });
  const d = decideNoiseLength(L, [t(1000, 0.8)]);
  assert.equal(d.done, true);
  assert.ok(d.done && d.steps === 1000 && d.endedBy === 'memorised');
  assert.ok(d.done && /memorised 80\.0% of its noisy labels at 1000 steps/.test(d.reason));
});

test('(e) length: memorising later doubles until the target is reached', () => {
  assert.deepEqual(decideNoiseLength(L, [t(1000, 0.1)]), { done: false, next: 2000 });
  assert.deepEqual(decideNoiseLength(L, [t(2000, 0.3), t(1000, 0.1)]), { done: false, next: 4000 });
  const d = decideNoiseLength(L, [t(1000, 0.1), t(2000, 0.3), t(4000, 0.5)]);
  assert.ok(d.done && d.steps === 4000 && d.endedBy === 'memorised', JSON.stringify(d));
});

test('(e) length: a baseline that never memorises is ended by the budget, and says so', () => {
  const d = decideNoiseLength(L, [t(1000, 0), t(2000, 0.01), t(4000, 0.05), t(8000, 0.2)]);
  assert.ok(d.done && d.steps === 8000 && d.endedBy === 'budget', JSON.stringify(d));
  assert.ok(d.done && /budget ran out: at 8000 steps the baseline memorised 20\.0%/.test(d.reason));
  // A missing noisy accuracy never counts as memorised.
  const n = decideNoiseLength(L, [t(1000, null), t(2000, null), t(4000, null), t(8000, null)]);
  assert.ok(n.done && n.endedBy === 'budget' && /an unknown share/.test(n.reason));
});

test('(e) length: a failed baseline ends the rule at its length', () => {
  const d = decideNoiseLength(L, [t(1000, 0.1), t(2000, null, 'diverged')]);
  assert.ok(d.done && d.steps === 2000 && d.endedBy === 'failed', JSON.stringify(d));
});

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fl-repro-search-'));
const quickOpts = (out: string) => ({ dataset: parseDatasetArg('synthetic'), quick: true, out });

test('orchestrated: a baseline that never memorises runs every length; the claim uses the budget and the report says so', async () => {
  const out = tmp();
  const world: FakeWorld = { ...PAPER_WORLD, noisy: () => 0.05 };
  const runner = fakeRunner(world);
  const r = await reproduce(quickOpts(out), { runner });
  const s = r.plan.setup;
  const lens = noiseLengths(s);
  assert.ok(lens.length >= 2);
  const n = r.plan.noiseLengths[0];
  assert.deepEqual(
    n.tries.map((x) => x.steps),
    lens,
  );
  assert.equal(n.endedBy, 'budget');
  const claimE = r.plan.claims.find((c) => c.claim === 'e')!;
  for (const a of claimE.arms) assert.equal(a.steps, lens[lens.length - 1]);
  for (const id of claimE.arms.flatMap((a) => a.runIds))
    assert.equal(r.plan.runs.find((x) => x.id === id)!.config.schedule.steps, lens.at(-1));
  // FP's α search ran at the chosen length.
  const fpE = r.plan.alphaSearches.find((a) => a.noise > 0)!;
  assert.equal(fpE.steps, lens.at(-1));
  assert.equal(
    r.analysis.e.verdict.verdict,
    'inconclusive',
    'nothing memorised: nothing to prevent',
  );
  assert.match(r.analysis.e.levels[0].reason, /length: budget/);
  const md = fs.readFileSync(r.reportPath, 'utf8');
  assert.match(md, /\| 25% \| [^|]+ \| \d+ \| \*\*budget\*\* \|/);
  assert.match(md, /Length rule: /);
});

test('orchestrated: when every α hurts, (c) says the search found no helpful value and runs the smallest α', async () => {
  const out = tmp();
  const world: FakeWorld = {
    ...PAPER_WORLD,
    testAcc: (spec: RunSpec) => PAPER_WORLD.testAcc(spec) - (spec.penalty === 'none' ? 0 : 0.05),
  };
  const r = await reproduce(quickOpts(out), { runner: fakeRunner(world) });
  const s = r.plan.setup;
  for (const a of r.plan.alphaSearches) {
    assert.equal(a.choice.found, false, `${a.kind} at ${a.noise}`);
    assert.equal(
      a.choice.alpha,
      Math.min(...(a.noise > 0 ? s.alphaSearch.noiseGrid : s.alphaSearch.grid)),
    );
  }
  const fp = r.plan.claims.find((c) => c.claim === 'c')!.arms.find((a) => a.penalty === 'fisher')!;
  assert.equal(fp.alpha, Math.min(...s.alphaSearch.grid));
  assert.equal(r.analysis.c.verdict.verdict, 'does not hold');
  assert.match(r.analysis.c.verdict.reason, /α search found no helpful value/);
  const md = fs.readFileSync(r.reportPath, 'utf8');
  assert.match(md, /## α search/);
  assert.match(md, /α search found no helpful value/);
});
