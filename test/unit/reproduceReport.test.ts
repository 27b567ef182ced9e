/** The report generator: sections per claim, the rule before the numbers, tables beside the paper, verdicts, figures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  buildPlan,
  parseDatasetArg,
  searchRuns,
  setupFor,
  type RunSpec,
} from '../../src/reproduce/plan';
import { renderReport } from '../../src/reproduce/report';
import { fsStore } from '../../src/reproduce/store';
import { PAPER_WORLD, writeFakeRun, type FakeWorld } from '../../src/reproduce/fakeRunner';
import type { Results } from '../../src/reproduce/results';

const setup = setupFor({ dataset: parseDatasetArg('fashion-mnist'), quick: true });
const plan = buildPlan(setup, 0.1);

function resultsFor(world: FakeWorld): Results {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-report-'));
  const store = fsStore(out);
  const specs: RunSpec[] = [...searchRuns(setup), ...plan.runs];
  const res: Results = {};
  for (const s of specs) {
    writeFakeRun(store.runsRoot, s, world);
    res[s.id] = store.load(s.id);
  }
  fs.rmSync(out, { recursive: true, force: true });
  return res;
}

test('every claim has a section with set-up, rule before the numbers, a table, a verdict and a figure', () => {
  const { markdown, files } = renderReport(plan, resultsFor(PAPER_WORLD), {
    command: 'npx fisher-lens reproduce --quick',
  });
  for (const [claim, fig] of [
    ['(a)', 'a-trf.svg'],
    ['(b)', 'b-scatter.svg'],
    ['(c)', 'c-trf.svg'],
    ['(e)', 'e-curves-n25.svg'],
  ]) {
    const start = markdown.indexOf(`## ${claim} `);
    assert.ok(start >= 0, `section ${claim}`);
    const end = markdown.indexOf('\n## ', start + 1);
    const sec = markdown.slice(start, end);
    assert.match(sec, /\nSet-up: /);
    const rule = sec.indexOf('\nRule: ');
    const tab = sec.indexOf('\n| ');
    assert.ok(rule > 0 && tab > rule, `${claim}: the rule is stated before the first table`);
    assert.match(sec, /\*\*Verdict: HOLDS\*\*/, `${claim} verdict line`);
    assert.match(sec, /\| paper/, `${claim}: paper row`);
    assert.ok(sec.includes(`](figures/${fig})`), `${claim} references ${fig}`);
  }
  // Every referenced figure is produced, and is an SVG document.
  const refs = [...markdown.matchAll(/\]\((figures\/[^)]+)\)/g)].map((m) => m[1]);
  assert.ok(refs.length >= 4);
  for (const r of refs) {
    assert.ok(files[r], `missing figure ${r}`);
    assert.match(files[r], /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*<\/svg>\n$/);
    assert.match(files[r], /<(path|circle) /, `${r} draws data`);
  }
  // The paper's own numbers appear beside ours (a: 52.05/24.21 = 2.15; c: SimpleCNN FP 79.66).
  assert.match(markdown, /\| 2\.15 \|/);
  assert.match(markdown, /79\.66/);
  assert.match(markdown, /## Summary[\s\S]*\| \(a\) small LR explodes Tr\(F\) \| holds \|/);
  assert.match(markdown, /η\* = \*\*0\.1\*\*/);
  assert.match(markdown, /Command: `npx fisher-lens reproduce --quick`/);
});

test('a claim that fails is reported as failing; missing runs give inconclusive verdicts, not errors', () => {
  // A world where the small LR does not explode and FP does nothing for memorisation.
  const flat: FakeWorld = { ...PAPER_WORLD, peak: () => 20, noisy: () => 0.9, clean: () => 0.99 };
  const { markdown } = renderReport(plan, resultsFor(flat));
  assert.match(markdown, /## \(a\)[\s\S]*\*\*Verdict: DOES NOT HOLD\*\*/);
  assert.match(markdown, /## \(e\)[\s\S]*\*\*Verdict: DOES NOT HOLD\*\*/);
  const empty = renderReport(plan, {});
  assert.equal((empty.markdown.match(/\*\*Verdict: INCONCLUSIVE\*\*/g) ?? []).length, 4);
  assert.match(empty.markdown, /\| missing \|/);
});

test('the report is a pure function of (plan, results)', () => {
  const res = resultsFor(PAPER_WORLD);
  const meta = { generatedAt: '2021-01-01T00:00:00Z' };
  assert.deepEqual(renderReport(plan, res, meta), renderReport(plan, res, meta));
});

test('with the PyTorch engine the plan adds SimpleCNN arms of (a) with their own LR search; the report shows them', async () => {
  const { reproduce } = await import('../../src/reproduce/orchestrate');
  const { fakeRunner } = await import('../../src/reproduce/fakeRunner');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-report-cnn-'));
  const opts = { dataset: parseDatasetArg('synthetic'), quick: true, cnn: true, out };
  const runner = fakeRunner();
  const r = await reproduce(opts, { runner });
  const cnnRuns = runner.calls.filter((id) => id.startsWith('cnn-'));
  assert.ok(
    cnnRuns.some((id) => id.startsWith('cnn-search-')),
    'a CNN LR search',
  );
  const arms = r.plan.claims.find((c) => c.claim === 'a-cnn')!.arms;
  for (const id of arms.flatMap((a) => a.runIds)) {
    assert.ok(cnnRuns.includes(id), id);
    assert.equal(r.plan.runs.find((x) => x.id === id)!.config.model.arch, 'simplecnn');
  }
  assert.equal(arms[1].lr, Number(((r.plan.cnnEtaStar as number) / 10).toPrecision(3)));
  assert.ok(r.analysis.aCnn);
  const md = fs.readFileSync(r.reportPath, 'utf8');
  assert.match(md, /### \(a\) with SimpleCNN[\s\S]*\*\*Verdict: HOLDS\*\*/);
  assert.match(md, /\| \(a\) the same, SimpleCNN \| holds \|/);
  assert.ok(fs.existsSync(path.join(out, 'figures', 'a-cnn-trf.svg')));
  // Without the flag (the wasm path) the plan is the MLP plan alone.
  assert.ok(!buildPlan(setup, 0.1).claims.some((c) => c.claim === 'a-cnn'));
});

test("the early peak and Tr(F_i) are the detector's: summary fields, else a replay of the events", async () => {
  const { resultFromEvents } = await import('../../src/reproduce/results');
  // Tr(F) every 10 steps; the first LR drop at step 50 (milestone 0.5 of 100 steps) ends the early phase.
  const ys = [10, 40, 70, 40, 10, 100, 100, 100, 100, 100];
  const events = ys.flatMap((y, i) => [
    {
      type: 'fisher',
      t: 0,
      step: 10 * i,
      epoch: 0,
      trF: y,
      trFStderr: 0,
      probeSize: 8,
      trFB: 0,
      ms: 1,
    },
    {
      type: 'step',
      t: 0,
      step: 10 * i + 1,
      epoch: 0,
      loss: i < 3 ? 2 : 0.1,
      lr: 0.1,
      penalty: null,
      gradNorm: 1,
      examplesPerSec: 1,
    },
  ]) as never[];
  const config = {
    fisher: { lossThreshold: 1 },
    schedule: { steps: 100, lrSchedule: 'step', milestones: [0.5, 0.75] },
    dataset: { trainSize: 1000 },
    optimizer: { batchSize: 10 },
  };
  const r = resultFromEvents('x', 'completed', events, { state: 'completed' }, config);
  // Levels (means of 3) by middle step, up to the drop at 50: 40, 50, 40, 50 and (10 + 100 + 100)/3 = 70 at
  // step 50; the windows centred after the drop (100) do not count.
  assert.equal(r.peak, 70);
  assert.ok(r.trFi !== null && r.trFi > 0);
  const fromSummary = resultFromEvents('x', 'completed', events, { peakTrF: 7, trFi: 3 }, config);
  assert.deepEqual([fromSummary.peak, fromSummary.trFi], [7, 3]);
});
