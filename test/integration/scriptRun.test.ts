/**
 * `fisher-lens run -- python3 script.py`: a user's own PyTorch loop with the Python Monitor, through the real CLI
 * and a real Python with PyTorch (skipped, with the reason, without one). The example (examples/train_mnist.py,
 * a small CNN on the bundled MNIST) trains to a complete run folder; STOP and SIGTERM reach the script; a script
 * that crashes, never creates a Monitor or cannot start is reported as such.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readRun } from '../../src/runs/reader';
import { torchPython } from './torchHelpers';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const example = path.join(root, 'examples', 'train_mnist.py');
const { python, skip } = torchPython();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-script-'));
const runsDir = path.join(tmp, 'runs');
fs.mkdirSync(runsDir);
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const STACK = /^\s+at .+:\d+:\d+\)?$/m;

function cli(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 300_000,
    cwd: tmp,
  });
}

function script(name: string, body: string): string {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, body);
  return f;
}

const LOOP = `
import sys, time, torch, torch.nn as nn, torch.nn.functional as F
from fisher_lens_engine import Monitor
torch.manual_seed(0)
m = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 4))
x = torch.randn(64, 1, 8, 8); y = torch.randint(0, 4, (64,))
opt = torch.optim.SGD(m.parameters(), lr=0.05)
mon = Monitor(m, probe=x[:32], every=5, total_steps=STEPS)
for s in range(STEPS):
    loss = F.cross_entropy(m(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    mon.step(loss, lr=0.05, batch_size=64)
    CRASH
    if mon.should_stop():
        print("stop seen at step", mon.steps, flush=True)
        break
    time.sleep(SLEEP)
mon.close()
`;
const loop = (steps: number, sleep: number, crash = '') =>
  LOOP.replace(/STEPS/g, String(steps))
    .replace('SLEEP', String(sleep))
    .replace('CRASH', crash || 'pass');

test(
  'the example (a small CNN on MNIST) trains through fisher-lens run into a complete run folder',
  { skip, timeout: 300_000 },
  () => {
    const r = cli([
      'run',
      '--runs-dir',
      runsDir,
      '--run-id',
      'example',
      '--',
      python!,
      example,
      '--steps',
      '40',
      '--train-size',
      '512',
      '--every',
      '10',
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /trained 40 steps/, "the script's own output is passed through");
    const run = readRun(path.join(runsDir, 'example'));
    assert.equal(run.config, null);
    assert.equal(run.script!.kind, 'script');
    assert.deepEqual(run.script!.command.slice(1, 2), [example]);
    assert.equal(run.script!.name, 'train_mnist');
    assert.deepEqual(run.script!.fisher, { every: 10, probeSize: 128 });
    assert.equal(run.header!.model.arch, 'SmallCNN');
    // conv 1→16 (3×3), conv 16→32 (3×3), fc 1568→64, fc 64→10
    assert.equal(run.header!.model.paramCount, 160 + 4640 + 1568 * 64 + 64 + 650);
    assert.equal(run.header!.engine!.name, 'torch');
    assert.equal(run.header!.totalSteps, 40);
    assert.deepEqual(
      run.byType.fisher.map((e) => e.step),
      [0, 10, 20, 30, 40],
    );
    assert.ok(run.byType.fisher.every((e) => e.trF > 0 && e.probeSize === 128 && e.trFB! > 0));
    assert.ok(run.byType.step.length >= 2 && run.byType.step.at(-1)!.step === 40);
    assert.deepEqual(
      run.byType.eval.map((e) => e.step),
      [40],
    );
    assert.equal(run.status!.state, 'completed');
    assert.equal(run.summary!.state, 'completed');
    assert.equal(run.summary!.steps, 40);
    assert.ok(run.summary!.finalTestAcc! > 0.2, `test accuracy ${run.summary!.finalTestAcc}`);
    assert.deepEqual(run.corruptLines, []);
  },
);

test(
  'STOP file and SIGTERM reach the script through should_stop(): stopped, exit 0',
  { skip, timeout: 300_000 },
  async () => {
    const f = script('slow.py', loop(100000, 0.05));
    const run = (id: string) => {
      const c = spawn(
        process.execPath,
        [bin, 'run', '--runs-dir', runsDir, '--run-id', id, '--json', '--', python!, f],
        {
          cwd: tmp,
        },
      );
      let out = '';
      let err = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (err += d));
      const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
      return { c, exited, out: () => out, err: () => err };
    };
    const until = async (cond: () => boolean, what: string) => {
      const end = Date.now() + 120_000;
      while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    const a = run('stopfile');
    await until(() => /"type":"fisher","t":\d+,"step":5\b/.test(a.out()), 'the step-5 Tr(F)');
    fs.writeFileSync(path.join(runsDir, 'stopfile', 'STOP'), '');
    assert.equal(await a.exited, 0, a.err());
    assert.match(a.err(), /stop seen at step \d+/);
    const ra = readRun(path.join(runsDir, 'stopfile'));
    assert.equal(ra.status!.state, 'stopped');
    assert.equal(ra.status!.error ?? null, null);
    assert.equal(ra.byType.status.at(-1)!.message, 'stopped: STOP file');

    const b = run('sigterm');
    await until(() => /"type":"fisher","t":\d+,"step":5\b/.test(b.out()), 'the step-5 Tr(F)');
    b.c.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.err());
    const rb = readRun(path.join(runsDir, 'sigterm'));
    assert.equal(rb.status!.state, 'stopped');
    assert.equal(rb.byType.status.at(-1)!.message, 'stopped: received SIGTERM');
    assert.ok(rb.byType.log.some((l) => /asked the script to stop/.test(l.message)));
  },
);

test(
  'a script that crashes after creating its Monitor: failed with its last stderr line, exit 1',
  { skip, timeout: 300_000 },
  () => {
    const f = script(
      'crash.py',
      loop(50, 0, 'if s == 7: raise RuntimeError("out of memory on purpose")'),
    );
    const r = cli(['run', '--runs-dir', runsDir, '--run-id', 'crash', '--', python!, f]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /Traceback/, "the script's stderr is passed through");
    assert.match(
      r.stderr.trim().split('\n').at(-1)!,
      /^failed after 8 steps .* — the script exited with code 1: RuntimeError: out of memory on purpose$/,
    );
    const run = readRun(path.join(runsDir, 'crash'));
    assert.equal(run.status!.state, 'failed');
    assert.equal(
      run.status!.error,
      'the script exited with code 1: RuntimeError: out of memory on purpose',
    );
    assert.ok(run.byType.log.some((l) => l.level === 'error' && /Traceback/.test(l.message)));
  },
);

test(
  'no Monitor, a missing command, bad arguments: clear errors, nothing written',
  { skip, timeout: 120_000 },
  () => {
    const before = fs.readdirSync(runsDir).sort();
    const none = cli([
      'run',
      '--runs-dir',
      runsDir,
      '--',
      python!,
      script('plain.py', 'print("hello")\n'),
    ]);
    assert.equal(none.status, 1);
    assert.match(none.stdout, /hello/);
    assert.match(
      none.stderr,
      /^fisher-lens: the script exited before creating a fisher_lens_engine\.Monitor: nothing was recorded$/m,
    );
    const missing = cli(['run', '--runs-dir', runsDir, '--', 'no-such-python-here', 'x.py']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^fisher-lens: command not found: no-such-python-here$/m);
    const badId = cli(['run', '--runs-dir', runsDir, '--run-id', '../x', '--', python!, 'x.py']);
    assert.equal(badId.status, 2);
    assert.match(badId.stderr, /--run-id/);
    const badName = cli(['run', '--runs-dir', runsDir, '--name', 'a b/c', '--', python!, 'x.py']);
    assert.equal(badName.status, 2);
    assert.match(badName.stderr, /--name: expected/);
    for (const r of [none, missing, badId, badName]) assert.ok(!STACK.test(r.stderr), r.stderr);
    assert.deepEqual(fs.readdirSync(runsDir).sort(), before);
  },
);
