/**
 * The orchestrator with an injected fake runner: LR search → η* → claims → report, and resumption (completed runs
 * skipped; unfinished or differently-configured runs moved aside and rerun; an interruption keeps finished runs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { reproduce, InterruptedError, type Runner } from '../../src/reproduce/orchestrate';
import { allRunIds, parseDatasetArg, type ReproOptions } from '../../src/reproduce/plan';
import { fakeRunner, writeFakeRun, PAPER_WORLD } from '../../src/reproduce/fakeRunner';
import { decide } from '../../src/reproduce/store';
import { Eta } from '../../src/reproduce/progress';
import { eta as hms } from '../../src/shared/format';

const opts = (out: string): ReproOptions & { out: string } => ({
  dataset: parseDatasetArg('synthetic'),
  quick: true,
  out,
});
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'fl-repro-'));
const isSearch = (id: string) => id.startsWith('search-') || id.startsWith('cnn-search-');

test('a full reproduction trains every planned run once, picks η* and writes the report', async () => {
  const out = tmp();
  const runner = fakeRunner();
  const r = await reproduce(opts(out), { runner });
  const expected = allRunIds(r.plan);
  assert.deepEqual([...runner.calls].sort(), [...expected].sort(), 'every run once');
  const firstClaim = runner.calls.findIndex((id) => !isSearch(id));
  assert.ok(firstClaim > 0);
  assert.ok(
    !runner.calls.slice(firstClaim).some(isSearch),
    'every search (η*, α, (e) length) runs before any claim run',
  );
  assert.equal(r.plan.etaStar, 0.1, 'the fake world is best at 0.1');
  // The fake world's penalties help at every α: ties go to the largest; its baseline memorises at once.
  for (const a of r.plan.alphaSearches) {
    assert.equal(a.choice.found, true);
    assert.equal(a.choice.alpha, 0.1);
  }
  assert.deepEqual(
    r.plan.noiseLengths.map((n) => [n.steps, n.endedBy, n.tries.length]),
    [[300, 'memorised', 1]],
  );
  assert.equal(r.analysis.a.verdict.verdict, 'holds');
  assert.equal(r.analysis.b.verdict.verdict, 'holds');
  assert.equal(r.analysis.c.verdict.verdict, 'holds');
  assert.equal(r.analysis.e.verdict.verdict, 'holds');
  const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  for (const m of md.matchAll(/\]\((figures\/[^)]+)\)/g))
    assert.ok(fs.existsSync(path.join(out, m[1])), m[1]);
  assert.ok(fs.existsSync(path.join(out, 'plan.json')));
  assert.ok(
    fs.existsSync(path.join(out, 'runs', 'lr0.01-fp-a0.1-s1', 'summary.json')),
    'runs are ordinary run directories under <out>/runs',
  );
});

test('rerunning skips completed runs; an unfinished run is moved aside and rerun; so is a run with another config', async () => {
  const out = tmp();
  const r1 = await reproduce(opts(out), { runner: fakeRunner() });
  // Second invocation: nothing to train.
  const again = fakeRunner();
  const r2 = await reproduce(opts(out), { runner: again });
  assert.deepEqual(again.calls, []);
  assert.equal(r2.skipped.length, allRunIds(r1.plan).length);

  // One run left unfinished (killed mid-run: no summary, status "running", torn last line), one with a changed config.
  const runs = path.join(out, 'runs');
  const plan = r2.plan;
  const unfinished = plan.runs.find((x) => x.id === 'lr0.01-s0')!;
  fs.rmSync(path.join(runs, unfinished.id), { recursive: true });
  writeFakeRun(runs, unfinished, PAPER_WORLD, { finish: false });
  const changed = 'lr0.1-s1';
  const cfgFile = path.join(runs, changed, 'config.json');
  fs.writeFileSync(
    cfgFile,
    JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), evalEvery: 7 }),
  );

  const third = fakeRunner();
  const r3 = await reproduce(opts(out), { runner: third });
  assert.deepEqual(third.calls.sort(), [unfinished.id, changed].sort());
  assert.deepEqual(r3.movedAside.sort(), [unfinished.id, changed].sort());
  const aside = fs.readdirSync(path.join(out, 'aside'));
  assert.equal(aside.length, 2);
  assert.ok(aside.some((d) => d.startsWith(`${unfinished.id}-`)));
  assert.match(
    fs.readFileSync(
      path.join(
        out,
        'aside',
        aside.find((d) => d.startsWith(unfinished.id))!,
        'MOVED_ASIDE.txt',
      ),
      'utf8',
    ),
    /unfinished run \(state running\)/,
  );
  assert.equal(
    r3.results[unfinished.id].state,
    'completed',
    'the rerun result is used, not the unfinished one',
  );
  assert.equal(r3.analysis.a.verdict.verdict, 'holds');
});

test('an interruption stops after the current run, keeps finished runs, and the next invocation resumes', async () => {
  const out = tmp();
  const ac = new AbortController();
  const inner = fakeRunner();
  let n = 0;
  const stopping: Runner = async (spec, ctx) => {
    const r = await inner(spec, ctx);
    if (++n === 6) ac.abort();
    return r;
  };
  await assert.rejects(
    reproduce(opts(out), { runner: stopping, signal: ac.signal }),
    InterruptedError,
  );
  assert.equal(inner.calls.length, 6);
  assert.ok(!fs.existsSync(path.join(out, 'report.md')));
  const rest = fakeRunner();
  const r = await reproduce(opts(out), { runner: rest });
  assert.equal(rest.calls.length, allRunIds(r.plan).length - 6);
  assert.equal(r.skipped.length, 6);
});

test('a failed run does not stop the reproduction; it is reported and rerun next time', async () => {
  const out = tmp();
  const world = {
    ...PAPER_WORLD,
    state: (s: { id: string; lr: number }) =>
      s.id === 'lr0.01-gp-a0.1-s0' ? ('failed' as const) : PAPER_WORLD.state(s as never),
  };
  const r = await reproduce(opts(out), { runner: fakeRunner(world) });
  assert.equal(r.results['lr0.01-gp-a0.1-s0'].state, 'failed');
  assert.match(fs.readFileSync(r.reportPath, 'utf8'), /`lr0\.01-gp-a0\.1-s0` \| failed \|/);
  const again = fakeRunner();
  await reproduce(opts(out), { runner: again });
  assert.deepEqual(again.calls, ['lr0.01-gp-a0.1-s0']);
});

test('decide(): pure resumption rule', () => {
  const cfg = { a: 1, b: [1, 2] };
  assert.deepEqual(decide('absent', null, cfg), { action: 'run' });
  assert.deepEqual(decide('completed', { b: [1, 2], a: 1 }, cfg), { action: 'skip' });
  assert.deepEqual(decide('diverged', cfg, cfg), { action: 'skip' });
  assert.equal(decide('completed', { a: 2, b: [1, 2] }, cfg).action, 'rerun');
  for (const s of ['running', 'stopped', 'failed', 'queued', 'unknown'])
    assert.equal(decide(s, cfg, cfg).action, 'rerun', s);
});

test('ETA: remaining steps × measured seconds per step; skipped runs count as done but not as speed', () => {
  let now = 0;
  const eta = new Eta(1000, () => now);
  eta.skip(400);
  assert.equal(eta.remaining(), null, 'nothing measured yet');
  eta.begin();
  now = 10_000;
  eta.at(100);
  // 100 steps in 10 s; 1000 − 400 − 100 = 500 steps left → 50 s.
  assert.equal(eta.remaining(), 50);
  eta.end(100);
  assert.equal(eta.remaining(), 50);
  assert.equal(hms(3725), '1h02m');
  assert.equal(hms(65), '1m05s');
});

test('ETA in cost-weighted steps: a SimpleCNN step counts as 29 MLP steps, a penalised one 1.4', () => {
  const { stepWeight, planBound } =
    require('../../src/reproduce/orchestrate') as typeof import('../../src/reproduce/orchestrate');
  const mlp = { model: { arch: 'mlp' } } as Parameters<typeof stepWeight>[0]['config'];
  const cnn = { model: { arch: 'simplecnn' } } as Parameters<typeof stepWeight>[0]['config'];
  assert.equal(stepWeight({ penalty: 'none', config: mlp }), 1);
  assert.equal(stepWeight({ penalty: 'fisher', config: mlp }), 1.4);
  assert.equal(stepWeight({ penalty: 'none', config: cnn }), 29);
  // 1000 MLP steps measured in 10 s; 100 SimpleCNN steps left → 2900 units → 29 s (the plain step average said 1 s).
  let now = 0;
  const eta = new Eta(1000 + 100 * 29, () => now);
  eta.begin();
  now = 10_000;
  eta.end(1000);
  assert.equal(eta.remaining(), 29);
  const { setupFor, parseDatasetArg } =
    require('../../src/reproduce') as typeof import('../../src/reproduce');
  const b = planBound(setupFor({ dataset: parseDatasetArg('mnist'), quick: true }));
  assert.ok(Math.abs(b.work - (b.mlpSteps + 1.4 * b.penaltySteps + 29 * b.cnnSteps)) < 1e-6);
});
