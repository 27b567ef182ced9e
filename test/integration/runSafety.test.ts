/**
 * Run folders under hostile or failing conditions, through the real CLI (dist/cli.js via bin/, real MNIST, real
 * processes and signals): planted symlinks, a full disk (a small tmpfs where the machine lets us mount one; the
 * injected-error variant is in test/unit/trainer.test.ts), divergence without NaN, repeated signals and SIGHUP,
 * kill -9 at the worst moments, a kill during run creation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRun } from '../../src/runs/reader';
import { writeQueuedRun } from '../../src/runs/writer';
import { resolveConfig } from '../../src/shared/config';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-safety-'));
const runsDir = path.join(tmp, 'runs');

before(() => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const small = (over: object = {}) => ({
  dataset: { name: 'mnist', trainSize: 1024, testSize: 200 },
  model: { arch: 'mlp', hidden: [32] },
  optimizer: { lr: 0.05, batchSize: 32 },
  schedule: { steps: 100 },
  fisher: { every: 20, probeSize: 32, warmupSteps: 10 },
  evalEvery: 50,
  backend: 'wasm',
  ...over,
});

let n = 0;
function writeConfig(cfg: object): string {
  const f = path.join(tmp, `cfg-${++n}.fisher.json`);
  fs.writeFileSync(f, JSON.stringify(cfg, null, 2));
  return f;
}

function cli(args: string[], timeout = 120_000) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout });
}

function start(args: string[]): ChildProcessWithoutNullStreams & {
  out: string[];
  err: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
} {
  const c = spawn(process.execPath, [bin, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessWithoutNullStreams & {
    out: string[];
    err: () => string;
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  };
  c.out = [];
  let partial = '';
  let stderr = '';
  c.stdout.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    c.out.push(...parts.filter(Boolean));
  });
  c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  c.err = () => stderr;
  c.exited = new Promise((r) => c.on('exit', (code, signal) => r({ code, signal })));
  return c;
}

async function until(
  cond: () => boolean,
  timeoutMs: number,
  what: string,
  pollMs = 5,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const events = (dir: string) =>
  fs
    .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** Every file under `dir`, dot-folders included. */
function walk(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) =>
      d.isDirectory() ? walk(path.join(dir, d.name)).map((f) => path.join(d.name, f)) : [d.name],
    );
}

const noStack = (text: string) =>
  assert.doesNotMatch(text, /^\s+at /m, `no stack trace printed:\n${text}`);

test(
  'a symlinked run id, or symlinked files in a queued placeholder, are refused (exit 2); nothing is written outside',
  { timeout: 120_000 },
  () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-outside-'));
    try {
      fs.mkdirSync(runsDir, { recursive: true });
      fs.symlinkSync(outside, path.join(runsDir, 'linked'));
      const cfg = writeConfig(small({ schedule: { steps: 5 } }));
      const r = cli(['train', cfg, '--runs-dir', runsDir, '--run-id', 'linked']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, /symbolic link/);
      noStack(r.stderr);
      assert.deepEqual(fs.readdirSync(outside), []);

      // A queued placeholder whose status.json points outside (content "queued"): the trainer refuses to adopt it.
      writeQueuedRun(runsDir, 'q-status', resolveConfig(small()));
      const target = path.join(outside, 'status-target.json');
      fs.renameSync(path.join(runsDir, 'q-status', 'status.json'), target);
      fs.symlinkSync(target, path.join(runsDir, 'q-status', 'status.json'));
      const before = fs.readFileSync(target, 'utf8');
      const r2 = cli(['train', cfg, '--runs-dir', runsDir, '--run-id', 'q-status']);
      assert.equal(r2.status, 2, r2.stderr);
      assert.match(r2.stderr, /status\.json in the queued run folder is a symbolic link; refusing/);
      noStack(r2.stderr);
      assert.equal(fs.readFileSync(target, 'utf8'), before, 'the link target is untouched');

      // events.jsonl planted as a (dangling) link: refused, the target is never created.
      writeQueuedRun(runsDir, 'q-events', resolveConfig(small()));
      fs.symlinkSync(
        path.join(outside, 'events-target'),
        path.join(runsDir, 'q-events', 'events.jsonl'),
      );
      const r3 = cli(['train', cfg, '--runs-dir', runsDir, '--run-id', 'q-events']);
      assert.equal(r3.status, 2, r3.stderr);
      noStack(r3.stderr);
      assert.deepEqual(fs.readdirSync(outside), ['status-target.json']);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  },
);

test(
  'disk full (a real ENOSPC on a small tmpfs): failed with the file and cause, one line, no temporary files, folder readable',
  { timeout: 240_000 },
  async (t) => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-tmpfs-'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=128k', 'tmpfs', mnt], {
      encoding: 'utf8',
    });
    if (mount.status !== 0) {
      fs.rmSync(mnt, { recursive: true, force: true });
      t.skip(
        `cannot mount a tmpfs here (${(mount.stderr || mount.error?.message || '').trim()}); the injected-error test in test/unit/trainer.test.ts covers the logic`,
      );
      return;
    }
    try {
      // (a) The checkpoint (MLP 784-64-10: 203 kB of float32) does not fit in 128 kB; everything else does.
      const cfg = writeConfig(
        small({ model: { arch: 'mlp', hidden: [64] }, schedule: { steps: 40 } }),
      );
      const r = cli(['train', cfg, '--runs-dir', path.join(mnt, 'runs'), '--run-id', 'ckpt-full']);
      assert.equal(r.status, 1, r.stderr);
      noStack(r.stderr);
      const dir = path.join(mnt, 'runs', 'ckpt-full');
      const run = readRun(dir);
      assert.equal(run.status!.state, 'failed');
      assert.match(
        run.status!.error!,
        /^checkpoint(\/params\.(bin|json))?: no space left on device \(ENOSPC\)$/,
      );
      assert.equal(run.summary!.state, 'failed');
      assert.equal(run.summary!.error, run.status!.error);
      assert.equal(run.byType.status.at(-1)!.state, 'failed');
      assert.ok(
        r.stderr.trim().split('\n').at(-1)!.includes(run.status!.error!),
        `the closing line names it:\n${r.stderr}`,
      );
      assert.deepEqual(
        walk(dir).filter((f) => /tmp|reserve/.test(f)),
        [],
        'no temporary files or folders left',
      );
      assert.ok(!fs.existsSync(path.join(dir, 'checkpoint')), 'no partial checkpoint');
      fs.rmSync(path.join(mnt, 'runs'), { recursive: true, force: true });

      // (b) Mid-run: fill the disk up to a few pages, then train until events.jsonl or status.json hits ENOSPC.
      const filler = path.join(mnt, 'filler');
      fs.writeFileSync(filler, Buffer.alloc(64 * 1024));
      const cfg2 = writeConfig(
        small({
          schedule: { steps: 20000 },
          fisher: { every: 5, probeSize: 32, warmupSteps: 10 },
          evalEvery: 1000,
          checkpoint: false,
        }),
      );
      const c = start([
        'train',
        cfg2,
        '--runs-dir',
        path.join(mnt, 'runs'),
        '--run-id',
        'events-full',
      ]);
      const { code } = await c.exited;
      assert.equal(code, 1, c.err());
      noStack(c.err());
      const lastLine = c.err().trim().split('\n').at(-1)!;
      assert.match(
        lastLine,
        /(events\.jsonl|status\.json|summary\.json): no space left on device \(ENOSPC\)$/,
        c.err(),
      );
      const dir2 = path.join(mnt, 'runs', 'events-full');
      const run2 = readRun(dir2, { isAlive: () => false });
      assert.equal(
        run2.state,
        'failed',
        'reads as failed (status.json says so, or its writer is gone)',
      );
      assert.deepEqual(run2.corruptLines, []);
      assert.ok(run2.byType.step.length > 0);
      // The writer's space reserve, released at the failure, leaves room to record it.
      assert.equal(run2.status!.state, 'failed');
      assert.equal(run2.status!.error, lastLine.replace(/^.* — /, ''));
      assert.equal(run2.summary!.state, 'failed');
      assert.equal(run2.byType.status.at(-1)!.state, 'failed');
      for (const f of ['config.json', 'status.json'])
        assert.doesNotThrow(() => JSON.parse(fs.readFileSync(path.join(dir2, f), 'utf8')), f);
      assert.deepEqual(
        walk(dir2).filter((f) => /tmp|reserve/.test(f)),
        [],
        'no temporary files left',
      );
      t.diagnostic(`mid-run: ${run2.status!.error}; ${run2.byType.step.length} step lines kept`);
    } finally {
      spawnSync('umount', ['-l', mnt]);
      fs.rmSync(mnt, { recursive: true, force: true });
    }
  },
);

test(
  'lr 100 on MNIST diverges without ever being NaN: state diverged, exit 3',
  { timeout: 120_000 },
  () => {
    const cfg = writeConfig(
      small({ optimizer: { lr: 100, batchSize: 32 }, schedule: { steps: 400 } }),
    );
    const r = cli(['train', cfg, '--runs-dir', runsDir, '--run-id', 'lr100']);
    assert.equal(r.status, 3, r.stderr);
    noStack(r.stderr);
    const run = readRun(path.join(runsDir, 'lr100'));
    assert.equal(run.status!.state, 'diverged');
    assert.match(
      run.status!.error!,
      /^training diverged at step \d+: the training loss \(median of the last \d+ steps\)/,
    );
    assert.equal(run.summary!.state, 'diverged');
    assert.ok(run.summary!.steps < 400);
    assert.ok(
      run.byType.step.every((s) => Number.isFinite(s.loss)),
      'every loss written was finite',
    );
    assert.ok(r.stderr.trim().split('\n').at(-1)!.startsWith('diverged after'));
  },
);

test(
  'signals: SIGTERM twice ends at once as stopped (exit 130); SIGHUP stops like SIGTERM',
  { timeout: 180_000 },
  async () => {
    // The second signal is sent once the first is acknowledged (a log event), while the run is in its final
    // phases: a Tr(F) measurement on a large probe and an evaluation on the whole test set (seconds here).
    const cfg = writeConfig(
      small({
        dataset: { name: 'mnist', trainSize: 1024, testSize: 10000 },
        model: { arch: 'mlp', hidden: [512, 512] },
        optimizer: { lr: 0.01, batchSize: 64 },
        schedule: { steps: 5000 },
        fisher: { every: 1000, probeSize: 1024, warmupSteps: 10 },
        evalEvery: 1000,
      }),
    );
    const c = start(['train', cfg, '--runs-dir', runsDir, '--run-id', 'term2', '--json']);
    await until(() => c.out.some((l) => l.includes('"type":"step"')), 60_000, 'the first step');
    c.kill('SIGTERM');
    await until(
      () => c.out.some((l) => l.includes('received SIGTERM: stopping after the current step')),
      60_000,
      'the first signal acknowledged',
    );
    c.kill('SIGTERM');
    const ex = await c.exited;
    assert.equal(ex.code, 130, c.err());
    const dir = path.join(runsDir, 'term2');
    const run = readRun(dir);
    assert.equal(run.status!.state, 'stopped');
    assert.ok(run.status!.step > 0);
    assert.equal(run.byType.status.at(-1)!.state, 'stopped');
    assert.match(
      run.byType.status.at(-1)!.message!,
      /received SIGTERM, then SIGTERM \(ended at once\)/,
    );
    assert.equal(run.summary!.state, 'stopped');
    assert.deepEqual(
      walk(dir).filter((f) => /tmp|reserve/.test(f)),
      [],
    );

    const h = start([
      'train',
      writeConfig(small({ schedule: { steps: 100000 } })),
      '--runs-dir',
      runsDir,
      '--run-id',
      'hup',
      '--json',
    ]);
    await until(() => h.out.some((l) => l.includes('"type":"step"')), 60_000, 'the first step');
    h.kill('SIGHUP');
    const hx = await h.exited;
    assert.equal(hx.code, 0, h.err());
    const hr = readRun(path.join(runsDir, 'hup'));
    assert.equal(hr.status!.state, 'stopped');
    assert.equal(hr.byType.status.at(-1)!.message, 'stopped: received SIGHUP');
    assert.ok(
      fs.existsSync(path.join(runsDir, 'hup', 'checkpoint', 'params.json')),
      'a normal stop still saves the checkpoint',
    );
  },
);

test(
  'kill -9: a fisher line reported on stdout is already in events.jsonl; a killed checkpoint write leaves no params.bin without params.json',
  { timeout: 180_000 },
  async (t) => {
    const c = start([
      'train',
      writeConfig(
        small({
          schedule: { steps: 100000 },
          fisher: { every: 10, probeSize: 32, warmupSteps: 10 },
        }),
      ),
      '--runs-dir',
      runsDir,
      '--run-id',
      'kill-fisher',
      '--json',
    ]);
    let seen: { step: number } | null = null;
    await until(
      () => {
        const f = c.out
          .map((l) => JSON.parse(l))
          .filter((e) => e.type === 'fisher' && e.step >= 30);
        if (f.length) {
          seen = f[0];
          c.kill('SIGKILL');
        }
        return !!seen;
      },
      60_000,
      'a fisher event on stdout',
      1,
    );
    await c.exited;
    const ev = events(path.join(runsDir, 'kill-fisher'));
    assert.ok(
      ev.some((e) => e.type === 'fisher' && e.step === seen!.step),
      `fisher line of step ${seen!.step} on disk`,
    );
    // Step order: no step line after the fisher line of the same or a later step.
    let maxOther = -Infinity;
    for (const e of ev) {
      if (e.type === 'step')
        assert.ok(e.step > maxOther, `step ${e.step} after a line of step ${maxOther}`);
      else if (typeof e.step === 'number') maxOther = Math.max(maxOther, e.step);
    }
    assert.equal(
      readRun(path.join(runsDir, 'kill-fisher'), { isAlive: () => false }).state,
      'failed',
    );

    // A big checkpoint (MLP 784-1024-1024-10, 7 MB); kill as soon as its temporary folder appears.
    let caught = 0;
    for (let i = 0; i < 3; i++) {
      const id = `kill-ckpt-${i}`;
      const k = start([
        'train',
        writeConfig(
          small({
            model: { arch: 'mlp', hidden: [1024, 1024] },
            schedule: { steps: 2 },
            fisher: { every: 100, probeSize: 8, warmupSteps: 1 },
          }),
        ),
        '--runs-dir',
        runsDir,
        '--run-id',
        id,
      ]);
      const dir = path.join(runsDir, id);
      let done = false;
      void k.exited.then(() => (done = true));
      while (!done) {
        let names: string[] = [];
        try {
          names = fs.readdirSync(dir);
        } catch {
          /* not created yet */
        }
        if (names.some((nm) => nm.startsWith('.checkpoint.tmp-'))) {
          k.kill('SIGKILL');
          caught++;
          break;
        }
        await new Promise((r) => setImmediate(r));
      }
      await k.exited;
      const ck = path.join(dir, 'checkpoint');
      if (fs.existsSync(ck))
        assert.deepEqual(
          fs.readdirSync(ck).sort(),
          ['params.bin', 'params.json'],
          'a checkpoint is complete or absent',
        );
      assert.doesNotThrow(() => readRun(dir, { isAlive: () => false }));
    }
    t.diagnostic(`killed inside the checkpoint write ${caught} of 3 times`);
  },
);

test('a run id burned by a kill during creation can be used again', { timeout: 120_000 }, () => {
  // What a trainer killed while creating leaves: a hidden staging folder with part of the files.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  fs.mkdirSync(runsDir, { recursive: true });
  const stage = path.join(runsDir, `.again.creating-${dead}`);
  fs.mkdirSync(stage);
  fs.writeFileSync(path.join(stage, 'config.json'), '{"half": ');
  const r = cli([
    'train',
    writeConfig(small({ schedule: { steps: 5 } })),
    '--runs-dir',
    runsDir,
    '--run-id',
    'again',
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readRun(path.join(runsDir, 'again')).state, 'completed');
});
