/**
 * Sweeps without a cluster: the sweep file's schema and one-line errors, grid × seeds expansion and run naming,
 * what a relaunch does with each run (skip finished/live, rerun the rest), the Slurm job script (run by bash
 * here, with paths holding spaces and quotes) and sbatch's arguments, and the liveness of runs on other hosts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseSweepText, SweepFileError, sweepJsonSchema } from '../../src/shared/sweep';
import { expandSweep, gridFieldProblem, loadSweep, runIds } from '../../src/sweep/expand';
import { decide, viewRun, type RunView } from '../../src/sweep/state';
import { arraySpec, jobScript, sbatchArgs, shq } from '../../src/sweep/slurm';
import { planSweep, stopQueuedRun, takeForLaunch } from '../../src/sweep/launch';
import { writeQueuedRun } from '../../src/runs/runDir';
import { writeJsonAtomic } from '../../src/runs/safeFs';
import { effectiveState } from '../../src/runs/reader';
import type { RunStatus } from '../../src/shared/protocol';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-sweep-'));
const base = {
  dataset: { name: 'synthetic', trainSize: 64, testSize: 32 },
  model: { arch: 'mlp', hidden: [8] },
  optimizer: { lr: 0.05, batchSize: 16 },
  schedule: { epochs: 2 },
  fisher: { probeSize: 16 },
};
const sweepText = (over: object = {}) =>
  JSON.stringify({
    name: 'lrs',
    base,
    grid: { 'optimizer.lr': [0.01, 0.1] },
    seeds: [3, 4],
    ...over,
  });
const errorsOf = (text: string, file = 'x.sweep.json'): string[] => {
  try {
    expandSweep(parseSweepText(text, file), path.join(tmp, file), { cwd: tmp });
  } catch (e) {
    assert.ok(e instanceof SweepFileError, String(e));
    for (const p of e.problems) assert.doesNotMatch(p, /\n/);
    return e.problems;
  }
  assert.fail('expected an error');
};

test('grid × seeds: every combination in file order, seeds innermost, configs resolved', () => {
  const text = JSON.stringify({
    name: 'g',
    base,
    grid: { 'optimizer.lr': [0.01, 0.1], 'penalty.kind': ['none', 'fisher'] },
    seeds: [0, 1],
  });
  const s = expandSweep(parseSweepText(text), path.join(tmp, 'g.sweep.json'), { cwd: tmp });
  assert.equal(s.runs.length, 8);
  assert.deepEqual(
    s.runs.map((r) => [r.config.optimizer.lr, r.config.penalty.kind, r.config.seed]),
    [
      [0.01, 'none', 0],
      [0.01, 'none', 1],
      [0.01, 'fisher', 0],
      [0.01, 'fisher', 1],
      [0.1, 'none', 0],
      [0.1, 'none', 1],
      [0.1, 'fisher', 0],
      [0.1, 'fisher', 1],
    ],
  );
  assert.deepEqual(
    s.runs.map((r) => r.index),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  assert.equal(s.runs[2].id, 'g-lr0.01-kindfisher-s0');
  // Everything else is the base, defaults filled in; 2 epochs of 64/16 = 8 steps.
  assert.equal(s.runs[0].config.model.arch, 'mlp');
  assert.equal(s.runs[0].config.optimizer.batchSize, 16);
  assert.equal(s.runs[0].steps, 8);
  assert.equal(s.runs[0].config.name, s.runs[0].id);
  assert.equal(s.runsRoot, path.join(tmp, '.fisherlens', 'runs'));
});

test('a grid run length replaces the base one; no seeds: the base seed; runsDir relative to the file', () => {
  const s = expandSweep(
    parseSweepText(
      JSON.stringify({
        name: 'len',
        base: { ...base, seed: 9 },
        grid: { 'schedule.steps': [5, 7] },
        runsDir: 'out/runs',
      }),
    ),
    path.join(tmp, 'sub', 'len.sweep.json'),
    { cwd: '/' },
  );
  assert.deepEqual(
    s.runs.map((r) => [r.id, r.steps, r.config.schedule.epochs, r.config.seed]),
    [
      ['len-steps5-s9', 5, undefined, 9],
      ['len-steps7-s9', 7, undefined, 9],
    ],
  );
  assert.equal(s.runsRoot, path.join(tmp, 'sub', 'out', 'runs'));
});

test('a base config file is read relative to the sweep file; its dataset folder is made absolute', () => {
  const d = path.join(tmp, 'based');
  fs.mkdirSync(path.join(d, 'cfg'), { recursive: true });
  fs.writeFileSync(
    path.join(d, 'cfg', 'base.fisher.json'),
    JSON.stringify({ ...base, dataset: { name: 'idx', path: '../data' } }),
  );
  fs.writeFileSync(
    path.join(d, 'b.sweep.json'),
    JSON.stringify({ name: 'b', base: 'cfg/base.fisher.json', seeds: [1, 2] }),
  );
  const s = loadSweep(path.join(d, 'b.sweep.json'), { cwd: d, runsDir: 'r' });
  assert.deepEqual(
    s.runs.map((r) => r.id),
    ['b-s1', 'b-s2'],
  );
  assert.equal(s.runs[0].config.dataset.path, path.join(d, 'data'));
  assert.equal(s.runsRoot, path.join(d, 'r'));
  // A dataset folder given by the grid is relative to the sweep file.
  fs.writeFileSync(
    path.join(d, 'c.sweep.json'),
    JSON.stringify({ name: 'c', base: 'cfg/base.fisher.json', grid: { 'dataset.path': ['d1'] } }),
  );
  const c = loadSweep(path.join(d, 'c.sweep.json'), { cwd: d });
  assert.equal(c.runs[0].config.dataset.path, path.join(d, 'd1'));
  assert.equal(c.runs[0].id, 'c-pathd1-s0');
});

test('run ids: readable, valid, unique (a hash where values collide), at most 128 characters', () => {
  const ids = runIds(
    'n',
    ['model.arch', 'dataset.name'],
    [
      { assignment: { 'model.arch': 'a b', 'dataset.name': 'x' }, seed: 0 },
      { assignment: { 'model.arch': 'a_b', 'dataset.name': 'x' }, seed: 0 },
      { assignment: { 'model.arch': 'c', 'dataset.name': 'x' }, seed: 0 },
    ],
  );
  assert.equal(ids[2], 'n-archc-namex-s0');
  assert.match(ids[0], /^n-archa_b-namex-s0-[0-9a-f]{8}$/);
  assert.match(ids[1], /^n-archa_b-namex-s0-[0-9a-f]{8}$/);
  assert.notEqual(ids[0], ids[1]);
  // Two fields with the same last name are told apart by their whole path.
  const two = runIds(
    'n',
    ['optimizer.lr', 'other.lr'],
    [{ assignment: { 'optimizer.lr': 1, 'other.lr': 2 }, seed: 0 }],
  );
  assert.equal(two[0], 'n-optimizer_lr1-other_lr2-s0');
  const long = runIds(
    'n',
    ['model.arch'],
    [{ assignment: { 'model.arch': 'x'.repeat(300) }, seed: 5 }],
  );
  assert.ok(long[0].length <= 128);
  for (const id of [...ids, ...two, ...long])
    assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/);
});

test('sweep file errors: one line each, naming the field', () => {
  assert.deepEqual(errorsOf('{"name": "a", "base": {}, "gird": {}}'), [
    'gird: unknown field; expected one of name, base, grid, seeds, runsDir, maxParallel, slurm',
  ]);
  assert.deepEqual(errorsOf('{"base": {}}'), ['name: required']);
  assert.match(errorsOf(sweepText({ name: 'has space' }))[0], /^name: got "has space"; must match/);
  assert.match(
    errorsOf(sweepText({ grid: { 'optimizer.lrr': [1] } }))[0],
    /^grid\."optimizer\.lrr": not a run config field; optimizer has .*lr/,
  );
  assert.match(
    errorsOf(sweepText({ grid: { optimizer: [1] } }))[0],
    /^grid\."optimizer": names a group of fields/,
  );
  assert.match(
    errorsOf(sweepText({ grid: { seed: [1] } }))[0],
    /^grid\."seed": use the "seeds" list/,
  );
  assert.match(
    errorsOf(sweepText({ grid: { 'optimizer.lr': [] } }))[0],
    /^grid\."optimizer\.lr": got \[\]; must NOT have fewer than 1 items/,
  );
  assert.match(
    errorsOf(sweepText({ grid: { 'bad key!': [1] } })).join('\n'),
    /grid\."bad key!": not a (run )?config field/,
  );
  assert.match(
    errorsOf(sweepText({ seeds: [1, 1] }))[0],
    /^seeds: got \[1,1\]; must NOT have duplicate items/,
  );
  assert.match(
    errorsOf(sweepText({ slurm: { partiton: 'gpu' } }))[0],
    /^slurm\.partiton: unknown field; expected one of partition, gres/,
  );
  assert.match(
    errorsOf(sweepText({ slurm: { gres: 'gpu:1; rm -rf /' } }))[0],
    /^slurm\.gres: got .*must match/,
  );
  assert.match(errorsOf('{"name": "a", ')[0], /^not valid JSON/);
  // A grid value the run config refuses: names the run, the grid field and the config's own message.
  assert.match(
    errorsOf(sweepText({ grid: { 'optimizer.lr': [0.1, -1] } }))[0],
    /^run lrs-lr-1-s3: grid\."optimizer\.lr" value -1: optimizer\.lr: got -1/,
  );
  assert.match(
    errorsOf(sweepText({ base: { ...base, model: { arch: 'nope' } } }))[0],
    /^base\.model\.arch: got "nope"/,
  );
  assert.match(
    errorsOf(sweepText({ base: 'missing.fisher.json' }))[0],
    /^base: .*missing\.fisher\.json/,
  );
  const big = { a: Array.from({ length: 40 }, (_, i) => i + 1) };
  assert.match(
    errorsOf(
      sweepText({
        grid: { 'optimizer.lr': big.a, 'optimizer.momentum': big.a.map((x) => x / 100) },
      }),
    )[0],
    /^grid: 3200 runs \(40 × 40 × 2 seeds\); at most 1000/,
  );
  assert.equal(gridFieldProblem('penalty.kind'), null);
});

test('the published schema: the file as written by hand validates; the base may be partial', () => {
  const schema = sweepJsonSchema() as {
    properties: Record<string, { anyOf?: { required?: string[] }[] }>;
  };
  assert.equal(
    fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', 'sweep.schema.json'), 'utf8'),
    JSON.stringify(schema, null, 2) + '\n',
    'schemas/sweep.schema.json is out of date: run node scripts/build.mjs',
  );
  const inline = schema.properties.base.anyOf!.find(
    (s) => (s as { type?: string }).type === 'object',
  );
  assert.equal(inline?.required, undefined);
});

const view = (over: Partial<RunView>): RunView => ({
  id: 'r',
  state: 'absent',
  step: 0,
  totalSteps: 10,
  jobId: null,
  host: null,
  error: null,
  sameConfig: true,
  ...over,
});

test('relaunch decisions: skip finished runs with the same config and live ones; rerun the rest', () => {
  assert.deepEqual(decide(view({})), { action: 'run' });
  assert.deepEqual(decide(view({ state: 'completed' })), { action: 'skip', why: 'done' });
  assert.deepEqual(decide(view({ state: 'diverged' })), { action: 'skip', why: 'done' });
  assert.equal(decide(view({ state: 'completed', sameConfig: false })).action, 'rerun');
  assert.deepEqual(decide(view({ state: 'running' })), { action: 'skip', why: 'active' });
  assert.deepEqual(decide(view({ state: 'queued', jobId: '7_1' }), true), {
    action: 'skip',
    why: 'active',
  });
  assert.deepEqual(decide(view({ state: 'queued', jobId: '7_1' })), {
    action: 'skip',
    why: 'active',
  });
  assert.match(
    (decide(view({ state: 'queued', jobId: '7_1' }), false) as { why: string }).why,
    /Slurm job 7_1 is no longer in the queue/,
  );
  assert.equal(decide(view({ state: 'failed' })).action, 'rerun');
  assert.equal(decide(view({ state: 'stopped' })).action, 'rerun');
});

test('planSweep on real run folders: completed with the same config is skipped, others moved aside', () => {
  const d = fs.mkdtempSync(path.join(tmp, 'plan-'));
  const s = expandSweep(
    parseSweepText(sweepText({ runsDir: 'runs' })),
    path.join(d, 'p.sweep.json'),
  );
  const [a, b, c] = s.runs;
  // a: completed with its own config; b: completed with another config; c: queued and then stopped.
  for (const [r, cfg] of [
    [a, a.config],
    [b, { ...b.config, seed: 99 }],
  ] as const) {
    const dir = writeQueuedRun(s.runsRoot, r.id, cfg);
    const st = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')) as RunStatus;
    writeJsonAtomic(path.join(dir, 'status.json'), { ...st, state: 'completed', step: r.steps });
  }
  writeQueuedRun(s.runsRoot, c.id, c.config, { jobId: '12_2' });
  assert.equal(viewRun(s.runsRoot, c).state, 'queued');
  assert.equal(viewRun(s.runsRoot, c).jobId, '12_2');
  assert.ok(stopQueuedRun(s.runsRoot, c.id, 'cancelled'));
  assert.equal(stopQueuedRun(s.runsRoot, c.id, 'again'), false);
  const plan = planSweep(s, { squeue: false });
  assert.deepEqual(
    plan.map((p) => p.decision.action),
    ['skip', 'rerun', 'rerun', 'run'],
  );
  const lines: string[] = [];
  const todo = takeForLaunch(s, plan, (l) => lines.push(l));
  assert.deepEqual(
    todo.map((r) => r.id),
    [b.id, c.id, s.runs[3].id],
  );
  assert.equal(fs.existsSync(path.join(s.runsRoot, b.id)), false);
  const aside = fs.readdirSync(path.join(s.runsRoot, '.sweeps', 'lrs', 'aside'));
  assert.equal(aside.length, 2);
  assert.match(lines.join('\n'), /different config; moved aside/);
});

test('the job script runs the run of its array index, quoting paths with spaces and quotes', () => {
  const d = path.join(tmp, "it's a dir");
  fs.mkdirSync(path.join(d, 'logs'), { recursive: true });
  const fakeNode = path.join(d, 'fake node');
  // A stand-in node: prints its arguments and exits with $FAKE_RC; `-e` (the job script's settle step) runs real Node.
  fs.writeFileSync(
    fakeNode,
    `#!/bin/bash\n[ "$1" = -e ] && exec '${process.execPath}' "$@"\nfor a in "$@"; do printf "%s\\n" "$a"; done\nexit \${FAKE_RC:-0}\n`,
    { mode: 0o755 },
  );
  const script = path.join(d, 'job.sbatch');
  fs.writeFileSync(
    script,
    jobScript({
      runs: [
        { index: 0, id: 'a-s0' },
        { index: 5, id: 'b-s1' },
      ],
      node: fakeNode,
      cli: path.join(d, 'bin dir', 'fisher-lens.js'),
      runsRoot: path.join(d, 'runs root'),
      configDir: path.join(d, 'configs'),
      logDir: path.join(d, 'logs'),
      setup: ['export FROM_SETUP=1'],
    }),
  );
  const r = spawnSync('bash', [script], {
    env: { ...process.env, SLURM_ARRAY_TASK_ID: '5' },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    fs
      .readFileSync(path.join(d, 'logs', 'b-s1.log'), 'utf8')
      .trim()
      .split('\n'),
    [
      path.join(d, 'bin dir', 'fisher-lens.js'),
      'train',
      path.join(d, 'configs', 'b-s1.fisher.json'),
      '--runs-dir',
      path.join(d, 'runs root'),
      '--run-id',
      'b-s1',
      '--quiet',
    ],
  );
  // A task whose trainer exits non-zero before adopting its queued folder: the folder says failed, and why.
  const cfg = expandSweep(parseSweepText(sweepText()), path.join(d, 'q.sweep.json')).runs[0].config;
  const queued = writeQueuedRun(path.join(d, 'runs root'), 'a-s0', cfg, { jobId: '5_0' });
  fs.writeFileSync(
    path.join(d, 'logs', 'a-s0.log'),
    'fisher-lens: config.json: optimizer.lr: got -1\n',
  );
  const failed = spawnSync('bash', [script], {
    env: { ...process.env, SLURM_ARRAY_TASK_ID: '0', FAKE_RC: '2' },
    encoding: 'utf8',
  });
  assert.equal(failed.status, 2, failed.stderr);
  const st = JSON.parse(fs.readFileSync(path.join(queued, 'status.json'), 'utf8'));
  assert.equal(st.state, 'failed');
  assert.equal(st.jobId, '5_0');
  assert.equal(
    st.error,
    'the Slurm task exited with code 2 before the run started: config.json: optimizer.lr: got -1',
  );
  // An index with no run fails (set -u), rather than training something else.
  const bad = spawnSync('bash', [script], { env: { ...process.env, SLURM_ARRAY_TASK_ID: '3' } });
  assert.notEqual(bad.status, 0);
  for (const x of ["it's", 'a b', '$HOME', '`x`', '"q"', '\\']) {
    const o = spawnSync('bash', ['-c', `printf %s ${shq(x)}`], { encoding: 'utf8' });
    assert.equal(o.stdout, x);
  }
});

test('sbatch arguments: array spec with a limit, Slurm options from the file, % in paths doubled', () => {
  assert.equal(arraySpec([0, 1, 2, 5, 7, 8]), '0-2,5,7-8');
  assert.equal(arraySpec([3, 1, 2], 2), '1-3%2');
  const args = sbatchArgs({
    name: 'g',
    indices: [0, 1, 3],
    slurm: {
      partition: 'gpu',
      gres: 'gpu:1',
      time: '01:00:00',
      cpusPerTask: 4,
      mem: '8G',
      maxRunning: 2,
      extraArgs: ['--account=my lab'],
    },
    logDir: '/runs 100%/.sweeps/g/logs',
    chdir: '/runs 100%/.sweeps/g',
    script: '/runs 100%/.sweeps/g/job.sbatch',
    hold: true,
  });
  assert.deepEqual(args, [
    '--parsable',
    '--job-name=fisher-lens-g',
    '--array=0-1,3%2',
    '--output=/runs 100%%/.sweeps/g/logs/slurm-%A_%a.out',
    '--error=/runs 100%%/.sweeps/g/logs/slurm-%A_%a.err',
    '--chdir=/runs 100%/.sweeps/g',
    '--ntasks=1',
    '--partition=gpu',
    '--gres=gpu:1',
    '--time=01:00:00',
    '--cpus-per-task=4',
    '--mem=8G',
    '--account=my lab',
    '--hold',
    '/runs 100%/.sweeps/g/job.sbatch',
  ]);
});

test('a run on another host (a Slurm node) is judged by its heartbeat, never by a local pid', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const status = (over: Partial<RunStatus>): RunStatus => ({
    runId: 'r',
    state: 'running',
    step: 3,
    totalSteps: 10,
    pid: 2 ** 22 + 12345, // no such process here
    host: 'node-17',
    jobId: '40_1',
    startedAt: new Date(now - 600_000).toISOString(),
    updatedAt: new Date(now - 5_000).toISOString(),
    heartbeatSeconds: 10,
    error: null,
    ...over,
  });
  const opts = { hostname: 'login-1', now: () => now, isAlive: () => false };
  assert.deepEqual(effectiveState(status({}), null, opts), { state: 'running' });
  const stale = effectiveState(
    status({ updatedAt: new Date(now - 10 * 60_000).toISOString() }),
    null,
    opts,
  );
  assert.equal(stale.state, 'failed');
  assert.match(stale.stale ?? '', /no heartbeat since .* \(host node-17\)/);
  // The same status on this host with that pid gone: failed at once.
  assert.equal(effectiveState(status({ host: 'login-1' }), null, opts).state, 'failed');
});

test('planSweep asks squeue: a queued run whose task left the queue is failed and relaunched', () => {
  // A stand-in squeue (the real one is exercised by npm run test:slurm): prints $FAKE_QUEUE.
  const d = fs.mkdtempSync(path.join(tmp, 'queue-'));
  const bin = path.join(d, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'squeue'), '#!/bin/sh\nprintf "%b" "$FAKE_QUEUE"\n', {
    mode: 0o755,
  });
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
  try {
    const s = expandSweep(
      parseSweepText(sweepText({ runsDir: 'runs' })),
      path.join(d, 'q.sweep.json'),
    );
    writeQueuedRun(s.runsRoot, s.runs[0].id, s.runs[0].config, { jobId: '77_0' });
    process.env.FAKE_QUEUE = '77_0|PENDING|Priority\n';
    let p = planSweep(s)[0];
    assert.equal(p.view.state, 'queued');
    assert.deepEqual(p.decision, { action: 'skip', why: 'active' });
    process.env.FAKE_QUEUE = '';
    p = planSweep(s)[0];
    assert.equal(p.view.state, 'failed');
    assert.match(p.view.error ?? '', /Slurm task 77_0 left the queue without starting the run/);
    assert.equal(p.decision.action, 'rerun');
    // Without squeue (not a Slurm machine) the run folder alone decides: still queued.
    assert.equal(planSweep(s, { squeue: false })[0].view.state, 'queued');
  } finally {
    process.env.PATH = oldPath;
    delete process.env.FAKE_QUEUE;
  }
});

test('examples/*.sweep.json expand, and validate under the published schema (Ajv, as the editor reads it)', async () => {
  const Ajv = (await import('ajv')).default;
  const validate = new Ajv({ strict: false }).compile(
    JSON.parse(
      fs.readFileSync(path.join(__dirname, '..', '..', 'schemas', 'sweep.schema.json'), 'utf8'),
    ),
  );
  const dir = path.join(__dirname, '..', '..', 'examples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sweep.json'));
  assert.ok(files.length >= 1);
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.ok(validate(JSON.parse(text)), `${f}: ${JSON.stringify(validate.errors)}`);
    const s = loadSweep(path.join(dir, f), { runsDir: path.join(tmp, 'ex') });
    assert.ok(s.runs.length > 1, f);
  }
  assert.equal(validate({ name: 'x', base: {}, grid: { 'optimizer.lr': [] } }), false);
  assert.equal(validate({ name: 'x', base: {}, slurm: { partiton: 'a' } }), false);
});
