/**
 * `fisher-lens sweep --launcher local` through the real CLI (bin/ → dist/cli.js, real `train` child processes):
 * a 2×2 synthetic sweep trained two at a time, its status, a rerun that skips every finished run, a changed grid
 * value that launches only the new runs, and invalid sweep files refused with one line (exit 2, nothing written).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRun } from '../../src/runs/reader';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-sweep-local-'));

before(() => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});

const cli = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 240_000 });

const sweep = (lrs: number[]) => ({
  name: 'local',
  base: {
    dataset: { name: 'synthetic', trainSize: 64, testSize: 32 },
    model: { arch: 'mlp', hidden: [8] },
    optimizer: { lr: 0.05, batchSize: 16 },
    schedule: { steps: 6 },
    fisher: { probeSize: 16, every: 2 },
    evalEvery: 3,
    checkpoint: false,
    backend: 'cpu',
  },
  grid: { 'optimizer.lr': lrs },
  seeds: [0, 1],
  runsDir: 'runs',
  maxParallel: 2,
});

test('a local sweep trains every run, reports its status, and a rerun skips finished runs', () => {
  const file = path.join(tmp, 'local.sweep.json');
  fs.writeFileSync(file, JSON.stringify(sweep([0.01, 0.1])));
  const r = cli('sweep', file);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sweep local: 4 completed, 0 not/);
  assert.match(r.stderr, /4 run\(s\) to train here, 2 at a time/);
  const runs = path.join(tmp, 'runs');
  const ids = ['local-lr0.01-s0', 'local-lr0.01-s1', 'local-lr0.1-s0', 'local-lr0.1-s1'];
  for (const id of ids) {
    const d = readRun(path.join(runs, id));
    assert.equal(d.state, 'completed', id);
    assert.equal(d.config?.optimizer.lr, id.includes('lr0.01') ? 0.01 : 0.1);
    assert.equal(d.config?.seed, Number(id.slice(-1)));
    assert.ok(d.events.length > 0);
  }
  // Same seed, different learning rate: different runs (not copies of one).
  const first = readRun(path.join(runs, ids[0])).events.filter((e) => e.type === 'step');
  const third = readRun(path.join(runs, ids[2])).events.filter((e) => e.type === 'step');
  assert.notDeepEqual(first.at(-1), third.at(-1));

  const st = cli('sweep', 'status', file);
  assert.equal(st.status, 0, st.stderr);
  assert.match(st.stdout, /sweep local: 4 runs: completed 4/);

  const again = cli('sweep', file);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /all 4 runs are finished or live; nothing to launch/);

  // A new grid value: only its two runs are launched.
  fs.writeFileSync(file, JSON.stringify(sweep([0.01, 0.1, 0.2])));
  const dry = cli('sweep', file, '--dry-run');
  assert.match(dry.stdout, /6 runs, 2 to launch \(local\)/);
  const more = cli('sweep', file, '--max-parallel', '1');
  assert.equal(more.status, 0, more.stderr);
  assert.match(more.stdout, /2 completed, 0 not, 4 skipped/);
});

test('invalid sweep files: exit 2, one line naming the field, nothing written', () => {
  const cases: [object | string, RegExp][] = [
    [
      { ...sweep([0.1]), grid: { 'optimizer.lrr': [1] } },
      /grid\."optimizer\.lrr": not a run config field/,
    ],
    [
      { ...sweep([0.1]), grid: { 'optimizer.lr': [-1] } },
      /run local-lr-1-s0: grid\."optimizer\.lr" value -1/,
    ],
    [{ ...sweep([0.1]), slurm: { partition: 'a b' } }, /slurm\.partition: got "a b"/],
    ['{"name": ', /not valid JSON/],
  ];
  for (const [body, re] of cases) {
    const d = fs.mkdtempSync(path.join(tmp, 'bad-'));
    const file = path.join(d, 'bad.sweep.json');
    fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
    const r = cli('sweep', file);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(fs.existsSync(path.join(d, 'runs')), false);
  }
  const zero = cli('sweep', path.join(tmp, 'local.sweep.json'), '--max-parallel', '0');
  assert.equal(zero.status, 2);
  assert.match(zero.stderr, /--max-parallel must be an integer from 1 to 64 \(got "0"\)/);
  const none = cli('sweep', path.join(tmp, 'missing.sweep.json'));
  assert.equal(none.status, 2);
  assert.match(none.stderr, /missing\.sweep\.json/);
});

test('reproduce --launcher slurm: refused with one line where Slurm does not run; --slurm is validated', () => {
  const out = path.join(tmp, 'repro');
  const noSlurm = spawnSync(
    process.execPath,
    [bin, 'reproduce', '--quick', '--dataset', 'synthetic', '--launcher', 'slurm', '--out', out],
    {
      cwd: tmp,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: path.join(tmp, 'no-bin') },
    },
  );
  assert.equal(noSlurm.status, 2, noSlurm.stderr);
  assert.match(noSlurm.stderr, /^fisher-lens: --launcher slurm: squeue does not run here/);
  assert.equal(fs.existsSync(path.join(out, 'runs')), false);
  const bad = path.join(tmp, 'slurm.json');
  fs.writeFileSync(bad, JSON.stringify({ partiton: 'gpu' }));
  const r = cli(
    'reproduce',
    '--quick',
    '--dataset',
    'synthetic',
    '--launcher',
    'slurm',
    '--slurm',
    bad,
    '--out',
    out,
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /--slurm: .*slurm\.json: (\(root\)|partiton)/);
  const dry = cli(
    'reproduce',
    '--quick',
    '--dataset',
    'synthetic',
    '--launcher',
    'slurm',
    '--dry-run',
  );
  assert.equal(dry.status, 0, dry.stderr);
});

test('sweep cancel: the running run stops after its step, a waiting one ends stopped without being started', async () => {
  const dir = path.join(tmp, 'cancel');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'c.sweep.json');
  fs.writeFileSync(
    file,
    JSON.stringify({
      ...sweep([0.05]),
      name: 'c',
      base: { ...sweep([0.05]).base, schedule: { steps: 1_000_000 } },
      maxParallel: 1,
    }),
  );
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [bin, 'sweep', file], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
  child.stderr.on('data', (b: Buffer) => (err += b.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const runs = path.join(dir, 'runs');
  const [first, second] = ['c-lr0.05-s0', 'c-lr0.05-s1'];
  const stateOf = (id: string) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(runs, id, 'status.json'), 'utf8'))
        .state as string;
    } catch {
      return null;
    }
  };
  const until = Date.now() + 120_000;
  while (!(stateOf(first) === 'running' && stateOf(second) === 'queued')) {
    if (Date.now() > until) {
      child.kill('SIGKILL');
      assert.fail(`first ${stateOf(first)}, second ${stateOf(second)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const c = cli('sweep', 'cancel', file);
  assert.equal(c.status, 0, c.stderr);
  assert.match(c.stdout, /2 asked to stop/);
  assert.equal(await exited, 1, err); // runs that did not complete: exit 1
  assert.match(out, /sweep c: 0 completed, 2 not/);
  assert.match(err, new RegExp(`${second}: stopped`));
  assert.doesNotMatch(err, new RegExp(`${second}: started`));
  const a = readRun(path.join(runs, first));
  assert.equal(a.state, 'stopped');
  assert.ok(a.byType.step.length >= 1);
  const b = readRun(path.join(runs, second));
  assert.equal(b.state, 'stopped');
  assert.match(b.status?.error ?? '', /cancelled before it started/);
  assert.equal(b.byType.step.length, 0, 'never trained');
  assert.equal(b.header, null, 'never started');
});
