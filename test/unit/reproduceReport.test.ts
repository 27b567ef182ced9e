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
