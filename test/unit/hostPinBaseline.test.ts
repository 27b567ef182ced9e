/**
 * "Pin as Explosion Baseline" through the real extension against the fake `vscode`: the pin is kept in the workspace's
 * state (what the launcher passes as `--reference`, src/runs/reference.ts), a second call unpins, and a run that
 * cannot be a baseline is refused with the reason.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fake, installFakeVscode, Uri } from './helpers/fakeVscode';
import { sleep, until } from './helpers/wait';

installFakeVscode();

const { activate } = require('../../src/extension') as typeof import('../../src/extension');
const { writeFakeRun } =
  require('../../src/runs/fakeRun') as typeof import('../../src/runs/fakeRun');
const { BASELINE_KEY } =
  require('../../src/host/launcher') as typeof import('../../src/host/launcher');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-pin-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, '.fisherlens', 'runs');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;
const state = new Map<string, unknown>();
const exec = (id: string, ...args: unknown[]) =>
  fake.commands.get(id)!(...args) as Promise<unknown>;
const lastInfo = () => fake.messages.filter((m) => m.level === 'info').at(-1)?.text ?? '';

before(async () => {
  fs.mkdirSync(runs, { recursive: true });
  await writeFakeRun(runs, { runId: '20261129-010000-lr-large', steps: 200 });
  await writeFakeRun(runs, { runId: '20261129-010100-stopped', steps: 50, finalState: 'stopped' });
  fake.workspaceFolder = ws;
  ctx = { subscriptions: [] };
  api = activate({
    subscriptions: ctx.subscriptions,
    extensionUri: Uri.file(tmp),
    extensionPath: tmp,
    globalStorageUri: Uri.file(path.join(tmp, 'global')),
    workspaceState: {
      get: (k: string) => state.get(k),
      update: (k: string, v: unknown) => (state.set(k, v), Promise.resolve()),
    },
  } as never);
  await api.store.ready;
  await until(() => api.store.get('20261129-010100-stopped') !== undefined, 'runs listed');
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  await sleep(300);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('Pin as Explosion Baseline: kept in the workspace state; again: unpinned; a stopped run is refused', async () => {
  const id = '20261129-010000-lr-large';
  await exec('fisherLens.pinExplosionBaseline', id);
  assert.equal(state.get(BASELINE_KEY), id);
  assert.match(
    lastInfo(),
    /is the explosion baseline: runs started from now on with the same model and data/,
  );
  await exec('fisherLens.pinExplosionBaseline', id);
  assert.equal(state.get(BASELINE_KEY), undefined);
  assert.match(lastInfo(), /is no longer the explosion baseline/);
  await exec('fisherLens.pinExplosionBaseline', '20261129-010100-stopped');
  assert.equal(state.get(BASELINE_KEY), undefined);
  assert.match(lastInfo(), /cannot be the explosion baseline: it is stopped, not completed/);
});
