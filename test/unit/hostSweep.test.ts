/**
 * Sweeps in the extension host (fake `vscode`, real CLI): Launch Sweep… checks the file and starts
 * `fisher-lens sweep` as a terminal process (run here for real), the Runs tree groups the sweep's runs under one
 * node, Show Sweep in Runs Table sets the table's filter, and Stop Sweep cancels a pending Slurm task (a recording
 * stand-in for scancel on the PATH; the real one is in test/slurm) and writes STOP for a running run.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fake, installFakeVscode, Uri } from './helpers/fakeVscode';
import { until } from './helpers/wait';

installFakeVscode();

const { activate } = require('../../src/extension') as typeof import('../../src/extension');
const { writeQueuedRun } =
  require('../../src/runs/runDir') as typeof import('../../src/runs/runDir');

const root = path.resolve(__dirname, '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-host-sweep-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, 'runs');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;

const exec = (id: string, ...args: unknown[]) => {
  const f = fake.commands.get(id);
  assert.ok(f, `command ${id} registered`);
  return f(...args) as Promise<unknown>;
};
type Node = { kind?: string; name?: string; runId?: string; runs?: unknown[] };
const provider = () =>
  fake.treeViews.find((v) => v.id === 'fisherLens.runs')!.provider as {
    getChildren(e?: unknown): Node[];
    getTreeItem(e: unknown): { label: string; contextValue: string; description: string };
    getParent(e: unknown): unknown;
  };
const sweepFile = (name: string, body: object) => {
  const f = path.join(ws, `${name}.sweep.json`);
  fs.writeFileSync(f, JSON.stringify(body));
  return f;
};
const base = {
  dataset: { name: 'synthetic', trainSize: 64, testSize: 32 },
  model: { arch: 'mlp', hidden: [8] },
  optimizer: { lr: 0.05, batchSize: 16 },
  schedule: { steps: 4 },
  fisher: { probeSize: 16, every: 2 },
  evalEvery: 2,
  checkpoint: false,
  backend: 'cpu',
};

before(async () => {
  const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(b.status, 0, b.stderr);
  fs.mkdirSync(runs, { recursive: true });
  fake.workspaceFolder = ws;
  fake.settings = {
    'fisherLens.nodePath': process.execPath,
    'fisherLens.runsDirectory': runs,
  };
  ctx = { subscriptions: [] };
  const kept = new Map<string, unknown>();
  api = activate({
    subscriptions: ctx.subscriptions,
    extensionUri: Uri.file(root),
    extensionPath: root,
    globalStorageUri: Uri.file(path.join(tmp, 'global')),
    workspaceState: {
      keys: () => [...kept.keys()],
      get: (k: string, d?: unknown) => (kept.has(k) ? kept.get(k) : d),
      update: (k: string, v: unknown) => (kept.set(k, v), Promise.resolve()),
    },
  } as never);
  await api.store.ready;
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('Launch Sweep… refuses an invalid sweep file with the problem, and starts nothing', async () => {
  const f = sweepFile('bad', { name: 'bad', base, grid: { 'optimizer.lrr': [1] } });
  fake.messages.length = 0;
  const r = await exec('fisherLens.launchSweep', Uri.file(f));
  assert.equal(r, undefined);
  assert.equal(fake.terminals.length, 0);
  const err = fake.messages.find((m) => m.level === 'error');
  assert.match(err?.text ?? '', /bad\.sweep\.json: grid\."optimizer\.lrr": not a run config field/);
});

test('Launch Sweep… runs fisher-lens sweep; the tree groups its runs; the runs table is filtered to it', async () => {
  const f = sweepFile('grid', {
    name: 'grid',
    base,
    grid: { 'optimizer.lr': [0.01, 0.1] },
    seeds: [0, 1],
    maxParallel: 2,
  });
  fake.quickPicks.push((items) => (items as { label: string }[]).find((i) => i.label === 'local'));
  assert.equal(await exec('fisherLens.launchSweep', Uri.file(f)), 'grid');
  const t = fake.terminals.at(-1)!;
  assert.equal(t.shellPath, process.execPath);
  assert.deepEqual(t.shellArgs, [
    path.join(root, 'dist', 'cli.js'),
    'sweep',
    f,
    '--launcher',
    'local',
    '--runs-dir',
    runs,
  ]);
  // The terminal's process, run for real.
  const r = spawnSync(t.shellPath!, t.shellArgs!, {
    cwd: t.cwd,
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sweep grid: 4 completed/);

  api.store.refresh();
  await until(() => {
    const g = provider()
      .getChildren()
      .find((n) => n.kind === 'sweep');
    return g?.runs?.length === 4;
  }, 'the sweep node with its four runs');
  const top = provider().getChildren();
  const node = top.find((n) => n.kind === 'sweep')!;
  assert.equal(
    top.filter((n) => n.runId?.startsWith('grid-')).length,
    0,
    'runs are under the node',
  );
  const item = provider().getTreeItem(node);
  assert.equal(item.label, 'sweep grid');
  assert.equal(item.contextValue, 'sweep.done');
  assert.equal(item.description, '4 runs · 4 completed');
  const kids = provider().getChildren(node);
  assert.deepEqual(kids.map((k) => k.runId).sort(), [
    'grid-lr0.01-s0',
    'grid-lr0.01-s1',
    'grid-lr0.1-s0',
    'grid-lr0.1-s1',
  ]);
  assert.equal(provider().getParent(kids[0]), node);
  assert.match(provider().getTreeItem(kids[0]).contextValue, /^run\.completed/);

  await exec('fisherLens.showSweepRuns', node);
  const panel = fake.panels.find((p) => p.viewType === 'fisherLens.runsTable')!;
  panel.webview.receive({ type: 'ready' });
  const msg = panel.webview.posted.at(-1) as { filter?: string; rows: { runId: string }[] };
  assert.equal(msg.filter, '#sweep/grid');
  assert.equal(msg.rows.length, 4);
});

test('Stop Sweep: a pending Slurm task is cancelled with scancel, a running run gets STOP', async () => {
  // A stand-in scancel that records its arguments (this test is about what the editor asks of Slurm).
  const bin = path.join(tmp, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  const calls = path.join(tmp, 'scancel.calls');
  fs.writeFileSync(path.join(bin, 'scancel'), `#!/bin/sh\nprintf '%s\\n' "$@" >> '${calls}'\n`, {
    mode: 0o755,
  });
  const oldPath = process.env.PATH;
  process.env.PATH = `${bin}${path.delimiter}${oldPath}`;
  try {
    const cfg = JSON.parse(
      fs.readFileSync(path.join(runs, 'grid-lr0.01-s0', 'config.json'), 'utf8'),
    );
    const tag = { tags: ['sweep/cl'] };
    const pending = writeQueuedRun(runs, 'cl-a-s0', cfg, { jobId: '999_1' });
    fs.writeFileSync(path.join(pending, 'user.json'), JSON.stringify(tag));
    const running = writeQueuedRun(runs, 'cl-b-s0', cfg, { jobId: '999_0' });
    fs.writeFileSync(path.join(running, 'user.json'), JSON.stringify(tag));
    const st = JSON.parse(fs.readFileSync(path.join(running, 'status.json'), 'utf8'));
    fs.writeFileSync(
      path.join(running, 'status.json'),
      JSON.stringify({ ...st, state: 'running', host: 'node-3', pid: 4242, heartbeatSeconds: 10 }),
    );
    api.store.refresh();
    await until(
      () =>
        provider()
          .getChildren()
          .some((n) => n.kind === 'sweep' && n.name === 'cl' && n.runs?.length === 2),
      'the cl sweep node',
    );
    const node = provider()
      .getChildren()
      .find((n) => n.name === 'cl')!;
    assert.equal(provider().getTreeItem(node).contextValue, 'sweep.live');
    await exec('fisherLens.stopSweep', node);
    assert.deepEqual(fs.readFileSync(calls, 'utf8').trim().split('\n'), ['999_1']);
    const after = JSON.parse(fs.readFileSync(path.join(pending, 'status.json'), 'utf8'));
    assert.equal(after.state, 'stopped');
    assert.equal(after.error, 'cancelled before it started (scancel 999_1)');
    assert.ok(fs.existsSync(path.join(running, 'STOP')), 'STOP written for the running run');
  } finally {
    process.env.PATH = oldPath;
  }
});
