/**
 * Issue 9, end to end through the CLI on torch-cpu: a complete run folder, STOP file → stopped, SIGTERM →
 * stopped, the Python child killed → failed with a one-line reason (its stderr in the log), divergence (lr 100)
 * → diverged exit 3, an unusable explicit torch backend → exit 2 naming why. Skipped, with the reason, when no
 * Python with PyTorch is found.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { torchPython } from './torchHelpers';

const { python, skip } = torchPython();
const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-torch-cli-'));
const runsDir = path.join(tmp, 'runs');

before(() => {
  if (skip) return;
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function writeConfig(over: object = {}): string {
  const f = path.join(tmp, `cfg-${++n}.fisher.json`);
  fs.writeFileSync(
    f,
    JSON.stringify({
      dataset: { name: 'mnist', trainSize: 1024, testSize: 200 },
      model: { arch: 'mlp', hidden: [32] },
      optimizer: { lr: 0.05, batchSize: 32 },
      schedule: { steps: 60 },
      fisher: { every: 10, probeSize: 32, warmupSteps: 10 },
      evalEvery: 30,
      backend: 'torch-cpu',
      ...over,
    }),
  );
  return f;
}

const args = (cfg: string, id: string) => [
  bin,
  'train',
  cfg,
  '--runs-dir',
  runsDir,
  '--run-id',
  id,
  '--quiet',
  '--python',
  python!,
];

const events = (id: string) =>
  fs
    .readFileSync(path.join(runsDir, id, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
const summary = (id: string) =>
  JSON.parse(fs.readFileSync(path.join(runsDir, id, 'summary.json'), 'utf8')) as Record<
    string,
    unknown
  >;
const lastStep = (id: string) => {
  try {
    return Math.max(
      0,
      ...events(id)
        .filter((e) => e.type === 'step')
        .map((e) => e.step as number),
    );
  } catch {
    return 0;
  }
};

async function until(cond: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(cfg: string, id: string) {
  const c = spawn(process.execPath, args(cfg, id), { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  return { c, exited, err: () => err };
}

test(
  'a torch-cpu run writes a complete run folder (header names engine, device, versions)',
  { skip },
  () => {
    const r = spawnSync(process.execPath, args(writeConfig(), 'ok'), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(runsDir, 'ok');
    for (const f of [
      'config.json',
      'events.jsonl',
      'status.json',
      'summary.json',
      'checkpoint/params.json',
      'checkpoint/params.bin',
    ])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    const ev = events('ok');
    const h = ev[0] as {
      backend: string;
      engine: { name: string; device: string; versions: Record<string, string> };
    };
    assert.equal(h.backend, 'torch-cpu');
    assert.equal(h.engine.name, 'torch');
    assert.equal(h.engine.device, 'cpu');
    assert.match(h.engine.versions.torch, /^\d+\.\d+/);
    assert.equal(ev.filter((e) => e.type === 'step').length > 0, true);
    assert.equal(summary('ok').state, 'completed');
    assert.equal(lastStep('ok'), 60);
    const fisher = ev.filter((e) => e.type === 'fisher').map((e) => e.step);
    assert.deepEqual(fisher, [0, 10, 20, 30, 40, 50, 60]);
  },
);

test(
  'STOP file → stopped after the current step, with the final measurement and checkpoint',
  { skip },
  async () => {
    const run = start(writeConfig({ schedule: { steps: 100000 } }), 'stopfile');
    await until(() => lastStep('stopfile') >= 5, 60_000, 'step 5');
    fs.writeFileSync(path.join(runsDir, 'stopfile', 'STOP'), '');
    assert.equal(await run.exited, 0, run.err());
    const s = summary('stopfile');
    assert.equal(s.state, 'stopped');
    const ev = events('stopfile');
    const last = lastStep('stopfile');
    const fin = ev.filter((e) => e.type === 'fisher').pop();
    assert.equal(
      fin?.step,
      last,
      'the final Tr(F) is at the last recorded step (lockstep: the engine never ran ahead)',
    );
    assert.ok(fs.existsSync(path.join(runsDir, 'stopfile', 'checkpoint', 'params.bin')));
  },
);

test('SIGTERM → stopped (exit 0)', { skip }, async () => {
  const run = start(writeConfig({ schedule: { steps: 100000 } }), 'sigterm');
  await until(() => lastStep('sigterm') >= 5, 60_000, 'step 5');
  run.c.kill('SIGTERM');
  assert.equal(await run.exited, 0, run.err());
  const s = summary('sigterm');
  assert.equal(s.state, 'stopped');
  const st = events('sigterm')
    .filter((e) => e.type === 'status')
    .pop();
  assert.match(String(st?.message), /received SIGTERM/);
  const fin = events('sigterm')
    .filter((e) => e.type === 'fisher')
    .pop();
  assert.equal(fin?.step, lastStep('sigterm'));
});

test(
  'the Python child killed → failed with a one-line reason, stderr in the log (exit 1)',
  { skip },
  async () => {
    const run = start(writeConfig({ schedule: { steps: 100000 } }), 'killed');
    await until(() => lastStep('killed') >= 5, 60_000, 'step 5');
    const note = events('killed').find(
      (e) => e.type === 'log' && /python pid \d+/.test(String(e.message)),
    );
    const pid = Number(/python pid (\d+)/.exec(String(note?.message))![1]);
    process.kill(pid, 'SIGKILL');
    assert.equal(await run.exited, 1, run.err());
    const s = summary('killed');
    assert.equal(s.state, 'failed');
    assert.match(String(s.error), /torch engine \(python pid \d+\) was killed by SIGKILL/);
    assert.doesNotMatch(String(s.error), /\n/);
    const logs = events('killed').filter((e) => e.type === 'log' && e.level === 'error');
    assert.ok(logs.length > 0, 'an error log event');
  },
);

test('divergence (lr 100) → diverged, exit 3; the child is aborted', { skip }, () => {
  const r = spawnSync(
    process.execPath,
    args(
      writeConfig({ optimizer: { lr: 100, batchSize: 32 }, schedule: { steps: 2000 } }),
      'diverged',
    ),
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 3, r.stderr);
  assert.equal(summary('diverged').state, 'diverged');
  assert.ok(lastStep('diverged') < 2000);
});

test('an explicitly requested torch backend that is unusable exits 2 naming why', () => {
  const cfg = writeConfig();
  const r = spawnSync(
    process.execPath,
    [bin, 'train', cfg, '--runs-dir', runsDir, '--python', path.join(tmp, 'no-such-python')],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /backend "torch-cpu" is not available here \(.*no-such-python.* was not found/,
  );
  if (python) {
    const cuda = spawnSync(process.execPath, [...args(cfg, 'nocuda'), '--backend', 'torch-cuda'], {
      encoding: 'utf8',
    });
    if (cuda.status === 2) assert.match(cuda.stderr, /torch-cuda.*(CUDA|cuda)/);
  }
});

test(
  'input errors the engine finds (a model that does not fit the data, a corrupt IDX file) exit 2 as on wasm, with no run folder',
  { skip },
  () => {
    const small = writeConfig({
      dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
      model: { arch: 'simplecnn' },
    });
    const r = spawnSync(process.execPath, args(small, 'nofit'), { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(
      r.stderr,
      /model: simplecnn needs inputs of at least 12×12, got 8×8 \(dataset synthetic is 8×8×1\)/,
    );
    assert.doesNotMatch(r.stderr, /unexpected output|Traceback/);
    assert.ok(!fs.existsSync(path.join(runsDir, 'nofit')));

    const idx = path.join(tmp, 'bad-idx');
    fs.mkdirSync(idx, { recursive: true });
    for (const f of [
      'train-images-idx3-ubyte',
      'train-labels-idx1-ubyte',
      't10k-images-idx3-ubyte',
      't10k-labels-idx1-ubyte',
    ])
      fs.writeFileSync(path.join(idx, f), Buffer.from([0, 0, 8, 3, 0, 0]));
    const bad = writeConfig({ dataset: { name: 'idx', path: idx } });
    const d = spawnSync(process.execPath, args(bad, 'badidx'), { encoding: 'utf8' });
    assert.equal(d.status, 2, d.stderr);
    assert.match(d.stderr, /IDX/);
    assert.doesNotMatch(d.stderr, /unexpected output|Traceback/);
    assert.ok(!fs.existsSync(path.join(runsDir, 'badidx')));
  },
);
