/**
 * `fisher-lens sweep --launcher slurm` against a real single-node Slurm (Debian's slurm-wlm and munge, started
 * here by test/slurm/cluster.sh in a temporary folder and stopped after, even on failure): a 2×2 sweep
 * (schedule.steps × seeds) submitted held, so every task is pending when one is cancelled (no race); then
 * released with at most one task at a time: the two short runs complete, the long one is seen running on the
 * node and stopped with the STOP file. Every state is checked through `sweep status --json`, the run folders and
 * squeue. Skipped, with the reason, only where Slurm cannot start (not installed, not root, daemons refuse).
 * `npm run test:slurm`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const cluster = path.join(__dirname, 'cluster.sh');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-slurm-'));
const slurmDir = path.join(tmp, 'slurm');
/** Why Slurm cannot run here (the tests skip with it), or null once the cluster is up. */
let unavailable: string | null = null;
let env: NodeJS.ProcessEnv = process.env;

before(() => {
  const up = spawnSync('bash', [cluster, 'up', slurmDir], { encoding: 'utf8', timeout: 120_000 });
  const upOut = `${up.stdout}${up.stderr}`.trim();
  if (up.status === 3) {
    unavailable = `Slurm cannot start here: ${upOut.split('\n').pop()}`;
    return;
  }
  assert.equal(up.status, 0, `cluster.sh up failed: ${upOut}`);
  env = { ...process.env, SLURM_CONF: path.join(slurmDir, 'slurm.conf') };
  process.env.SLURM_CONF = env.SLURM_CONF; // for the in-process runner test's sbatch, squeue, scancel
  const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(build.status, 0, build.stderr);
});

after(() => {
  spawnSync('bash', [cluster, 'down', slurmDir], { encoding: 'utf8', timeout: 60_000 });
  fs.rmSync(tmp, { recursive: true, force: true });
});

const base = {
  dataset: { name: 'synthetic', trainSize: 64, testSize: 32 },
  model: { arch: 'mlp', hidden: [8] },
  optimizer: { lr: 0.05, batchSize: 16 },
  fisher: { probeSize: 16, every: 2 },
  evalEvery: 3,
  checkpoint: false,
  backend: 'cpu',
};

interface StatusRun {
  id: string;
  state: string;
  step: number;
  totalSteps: number;
  jobId: string | null;
  host: string | null;
  error: string | null;
  queue: string | null;
}

test(
  'a 2×2 sweep on a real single-node Slurm: queued, cancelled while pending, running, stopped, completed',
  {
    timeout: 300_000,
  },
  async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    {
      // A folder with a space: the job script and sbatch's arguments must quote it.
      const work = path.join(tmp, 'my sweeps');
      fs.mkdirSync(work);
      const file = path.join(work, 'grid.sweep.json');
      fs.writeFileSync(
        file,
        JSON.stringify({
          name: 'grid',
          base,
          // The long run never finishes by itself: it is stopped while running.
          grid: { 'schedule.steps': [6, 100000] },
          seeds: [0, 1],
          runsDir: 'runs root',
          slurm: { maxRunning: 1, cpusPerTask: 1, time: '00:10:00' },
        }),
      );
      const runsRoot = path.join(work, 'runs root');
      const ids = [
        'grid-steps6-s0',
        'grid-steps6-s1',
        'grid-steps100000-s0',
        'grid-steps100000-s1',
      ];
      const [short0, short1, long0, long1] = ids;

      const cli = (...args: string[]) => {
        const r = spawnSync(process.execPath, [bin, ...args], {
          cwd: work,
          env,
          encoding: 'utf8',
          timeout: 60_000,
        });
        assert.equal(r.status, 0, `fisher-lens ${args.join(' ')}: ${r.stderr}${r.stdout}`);
        return r.stdout;
      };
      const status = (): Map<string, StatusRun> => {
        const j = JSON.parse(cli('sweep', 'status', file, '--json')) as { runs: StatusRun[] };
        return new Map(j.runs.map((r) => [r.id, r]));
      };
      const waitFor = async (what: string, ok: (s: Map<string, StatusRun>) => boolean) => {
        const t0 = Date.now();
        let s = status();
        while (!ok(s)) {
          if (Date.now() - t0 > 150_000)
            assert.fail(`timed out waiting until ${what}: ${JSON.stringify([...s.values()])}`);
          await new Promise((r) => setTimeout(r, 500));
          s = status();
        }
        return s;
      };
      const squeue = () =>
        spawnSync('squeue', ['-h', '-r', '-o', '%i %T'], { env, encoding: 'utf8' }).stdout.trim();

      // Dry run: four runs named from the grid, nothing written.
      const dry = cli('sweep', file, '--launcher', 'slurm', '--dry-run');
      for (const id of ids) assert.match(dry, new RegExp(`^${id} .* run$`, 'm'));
      assert.equal(fs.existsSync(runsRoot), false);

      // Submitted held: four queued run folders, each with its array task id, pending in Slurm.
      const sub = cli('sweep', file, '--launcher', 'slurm', '--hold');
      const jobId = /job array (\d+)/.exec(sub)?.[1];
      assert.ok(jobId, sub);
      let s = status();
      ids.forEach((id, i) => {
        assert.equal(s.get(id)!.state, 'queued', id);
        assert.equal(s.get(id)!.jobId, `${jobId}_${i}`);
        assert.match(s.get(id)!.queue ?? '', /^PENDING/);
        const user = JSON.parse(fs.readFileSync(path.join(runsRoot, id, 'user.json'), 'utf8'));
        assert.deepEqual(user.tags, ['sweep/grid']);
      });

      // Cancel one pending task: scancel, and its run is stopped before it started.
      const c1 = cli('sweep', 'cancel', file, '--run', long1);
      assert.match(c1, /1 queued run\(s\) cancelled \(grid-steps100000-s1\)/);
      s = status();
      assert.equal(s.get(long1)!.state, 'stopped');
      assert.match(s.get(long1)!.error ?? '', /cancelled before it started \(scancel \d+_3\)/);
      assert.equal(s.get(long1)!.queue, null);
      assert.doesNotMatch(squeue(), new RegExp(`${jobId}_3 `));

      // Release: one task at a time; the short runs complete, the long one runs on the node.
      cli('sweep', 'release', file);
      s = await waitFor(
        'the short runs completed and the long one is running',
        (m) =>
          m.get(short0)!.state === 'completed' &&
          m.get(short1)!.state === 'completed' &&
          m.get(long0)!.state === 'running' &&
          m.get(long0)!.step > 0,
      );
      assert.equal(s.get(long0)!.host, os.hostname());
      assert.equal(s.get(long0)!.jobId, `${jobId}_2`);
      assert.match(s.get(long0)!.queue ?? '', /^RUNNING/);
      assert.match(squeue(), new RegExp(`^${jobId}_2 RUNNING$`, 'm'));

      // Cancel the sweep: the running run gets the STOP file and stops after its step; the queue empties.
      const c2 = cli('sweep', 'cancel', file);
      assert.match(c2, /1 asked to stop \(grid-steps100000-s0\)/);
      s = await waitFor(
        'the long run stopped and left the queue',
        (m) => m.get(long0)!.state === 'stopped' && m.get(long0)!.queue === null,
      );
      await waitFor('squeue is empty', () => squeue() === '');

      for (const id of [short0, short1]) {
        const sum = JSON.parse(fs.readFileSync(path.join(runsRoot, id, 'summary.json'), 'utf8'));
        assert.equal(sum.state, 'completed', id);
        assert.equal(s.get(id)!.step, 6);
        const log = path.join(runsRoot, '.sweeps', 'grid', 'logs', `${id}.log`);
        assert.ok(fs.existsSync(log), log);
      }
      const sumLong = JSON.parse(
        fs.readFileSync(path.join(runsRoot, long0, 'summary.json'), 'utf8'),
      );
      assert.equal(sumLong.state, 'stopped');
      assert.ok(s.get(long0)!.step > 0 && s.get(long0)!.step < 100000);
      assert.ok(
        fs.existsSync(path.join(runsRoot, '.sweeps', 'grid', 'logs', `slurm-${jobId}_0.out`)),
      );
      assert.equal(fs.existsSync(path.join(runsRoot, long1, 'events.jsonl')), false);

      // The human summary, and a rerun: finished runs are skipped, the two stopped ones would run again.
      const text = cli('sweep', 'status', file);
      assert.match(text, /sweep grid: 4 runs: completed 2, stopped 2/);
      const again = cli('sweep', file, '--launcher', 'slurm', '--dry-run');
      assert.match(again, new RegExp(`^${short0} .*skip \\(completed\\)$`, 'm'));
      assert.match(
        again,
        new RegExp(`^${long1} .*rerun: found an unfinished run \\(state stopped`, 'm'),
      );
      assert.match(again, /4 runs, 2 to launch \(slurm\)/);
    }
  },
);

test(
  "reproduce's Slurm runner: a run submitted as a job and waited for; an abort stops a running one",
  {
    timeout: 240_000,
  },
  async (t) => {
    if (unavailable) {
      t.skip(unavailable);
      return;
    }
    const { slurmRunner } = await import('../../src/sweep/slurmRunner');
    const { resolveConfig } = await import('../../src/shared/config');
    const runsRoot = path.join(tmp, 'repro', 'runs');
    fs.mkdirSync(runsRoot, { recursive: true });
    const runner = slurmRunner({ node: process.execPath, cli: bin, slurm: {}, pollMs: 300 });
    const steps: number[] = [];
    const short = resolveConfig({ ...base, schedule: { steps: 8 } });
    const ac = new AbortController();
    const r1 = await runner(
      { id: 'lr0.05-s0', config: short, steps: 8 },
      { runsRoot, onStep: (s) => steps.push(s), signal: ac.signal },
    );
    assert.deepEqual(r1, { state: 'completed', error: null });
    assert.equal(steps.at(-1), 8);
    const st = JSON.parse(fs.readFileSync(path.join(runsRoot, 'lr0.05-s0', 'status.json'), 'utf8'));
    assert.match(st.jobId, /^\d+_0$/);
    assert.equal(st.host, os.hostname());

    // A long run, aborted once it is seen running: STOP, and the runner returns its stopped state.
    const long = resolveConfig({ ...base, schedule: { steps: 100000 } });
    let seen = false;
    const r2 = await runner(
      { id: 'long-s0', config: long, steps: 100000 },
      {
        runsRoot,
        onStep: () => {
          if (!seen) {
            seen = true;
            ac.abort();
          }
        },
        signal: ac.signal,
      },
    );
    assert.ok(seen);
    assert.equal(r2.state, 'stopped');
    assert.ok(fs.existsSync(path.join(runsRoot, 'long-s0', 'STOP')));
  },
);
