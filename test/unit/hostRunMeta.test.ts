/**
 * Run management in the Runs view, through the real extension against the fake `vscode`: rename, notes and tags
 * kept in the run's user.json (validated when read, written atomically, never through a symlink), the tree showing
 * them, and the filter.
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

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-meta-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, '.fisherlens', 'runs');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;
const state = new Map<string, unknown>();

const exec = (id: string, ...args: unknown[]) =>
  fake.commands.get(id)!(...args) as Promise<unknown>;
const tree = () => fake.treeViews.find((v) => v.id === 'fisherLens.runs')!;
const items = () =>
  (tree().provider.getChildren() as { runId: string }[]).map(
    (r) =>
      tree().provider.getTreeItem(r) as {
        id: string;
        label: string;
        description: string;
        tooltip: { value: string };
      },
  );
const item = (id: string) => items().find((i) => i.id === id);
const userJson = (id: string) =>
  JSON.parse(fs.readFileSync(path.join(runs, id, 'user.json'), 'utf8'));

before(async () => {
  fs.mkdirSync(runs, { recursive: true });
  await writeFakeRun(runs, { runId: '20261129-010000-lr-large', steps: 200 });
  await writeFakeRun(runs, { runId: '20261129-010100-lr-small', steps: 200, explosion: false });
  await writeFakeRun(runs, { runId: '20261129-010200-planted', steps: 50 });
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
  await until(() => items().length === 3, 'three runs');
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  await sleep(500);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('rename, notes and tags go to user.json and show in the tree; clearing restores the run id', async () => {
  const id = '20261129-010000-lr-large';
  await exec('fisherLens.renameRun', id, '  η = 0.05, seed 3 ');
  await exec('fisherLens.editRunTags', id, '#large-lr, explosion  paper/fig1');
  await exec('fisherLens.editRunNotes', id, 'Explodes early; compare with the penalty run.');
  assert.deepEqual(userJson(id), {
    name: 'η = 0.05, seed 3',
    tags: ['large-lr', 'explosion', 'paper/fig1'],
    notes: 'Explodes early; compare with the penalty run.',
  });
  const it = await until(() => item(id)?.label === 'η = 0.05, seed 3' && item(id), 'renamed item');
  assert.match(it.description, /^#large-lr #explosion #paper\/fig1 · peak /);
  assert.match(it.tooltip.value, /20261129\\-010000\\-lr\\-large/);
  assert.match(it.tooltip.value, /Explodes early\\; compare with the penalty run\\\./);
  assert.equal(api.store.get(id)!.name, 'η = 0.05, seed 3');
  // The folder keeps its run id; no other file of the run was touched.
  assert.deepEqual(
    fs.readdirSync(path.join(runs, id)).filter((f) => f.includes('tmp')),
    [],
  );

  // Invalid input is refused with the reason, and nothing is written.
  await exec('fisherLens.editRunTags', id, 'ok <script>');
  assert.match(fake.messages.at(-1)!.text, /not a tag: <script>/);
  await exec('fisherLens.renameRun', id, 'a [link](command:x)');
  assert.match(fake.messages.at(-1)!.text, /Rename of .* not saved: user\.json: name: expected/);
  assert.equal(userJson(id).name, 'η = 0.05, seed 3');

  // Empty clears a field; a cleared name shows the run id again.
  await exec('fisherLens.renameRun', id, '');
  assert.equal(userJson(id).name, undefined);
  await until(() => item(id)?.label === id, 'run id again');
});

test('user.json is untrusted: bad fields named and dropped, markup never shown, a symlink neither read nor written through', async () => {
  const id = '20261129-010200-planted';
  const dir = path.join(runs, id);
  fs.writeFileSync(
    path.join(dir, 'user.json'),
    JSON.stringify({ name: '<img src=x onerror=alert(1)>', tags: ['fine', 'not fine'], notes: 7 }),
  );
  api.store.refresh();
  const run = await until(
    () => (api.store.get(id)?.problems.length ? api.store.get(id) : null),
    'problems',
  );
  assert.equal(run.name, id);
  assert.deepEqual(run.user, {});
  assert.ok(run.problems.some((p) => /^user\.json: name: expected/.test(p)));
  assert.ok(run.problems.some((p) => /^user\.json: tags/.test(p)));
  assert.ok(run.problems.some((p) => /^user\.json: notes: expected a string/.test(p)));
  // Renaming replaces the bad file with a valid one (bad fields dropped).
  await exec('fisherLens.renameRun', id, 'planted, fixed');
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'user.json'), 'utf8')), {
    name: 'planted, fixed',
  });

  // A user.json that is a symlink to a file elsewhere: not read; a rename replaces the link, the target stays.
  const target = path.join(tmp, 'outside.json');
  fs.writeFileSync(target, JSON.stringify({ name: 'from outside' }));
  fs.rmSync(path.join(dir, 'user.json'));
  fs.symlinkSync(target, path.join(dir, 'user.json'));
  api.store.refresh();
  await until(
    () => api.store.get(id)?.problems.some((p) => /user\.json: a symbolic link/.test(p)),
    'symlink named',
  );
  assert.equal(api.store.get(id)!.name, id);
  await exec('fisherLens.renameRun', id, 'after the link');
  assert.equal(fs.readFileSync(target, 'utf8'), JSON.stringify({ name: 'from outside' }));
  assert.ok(!fs.lstatSync(path.join(dir, 'user.json')).isSymbolicLink());
});

test('the filter matches ids, names, notes and #tags; it is named above the list and kept', async () => {
  await exec('fisherLens.editRunTags', '20261129-010100-lr-small', 'baseline');
  await until(() => api.store.get('20261129-010100-lr-small')?.user?.tags?.length, 'tagged');
  await exec('fisherLens.filterRuns', '#baseline');
  assert.deepEqual(
    items().map((i) => i.id),
    ['20261129-010100-lr-small'],
  );
  assert.equal(tree().message, 'Filter "#baseline": 1 of 3 runs');
  assert.equal(state.get('fisherLens.runsFilter'), '#baseline');
  await exec('fisherLens.filterRuns', 'lr completed');
  assert.deepEqual(
    items()
      .map((i) => i.id)
      .sort(),
    ['20261129-010000-lr-large', '20261129-010100-lr-small'],
  );
  await exec('fisherLens.filterRuns', 'penalty run'); // words of the notes
  assert.deepEqual(
    items().map((i) => i.id),
    ['20261129-010000-lr-large'],
  );
  await exec('fisherLens.clearRunFilter');
  assert.equal(items().length, 3);
  assert.equal(tree().message, undefined);
  assert.equal(state.get('fisherLens.runsFilter'), undefined);
});

test('New Run: each preset says what it will cost on the backend that runs it, from earlier runs here', async () => {
  const { PRESETS, presetConfig } =
    require('../../src/shared/presets') as typeof import('../../src/shared/presets');
  const { totalSteps } =
    require('../../src/shared/config') as typeof import('../../src/shared/config');
  const { eta } = require('../../src/shared/format') as typeof import('../../src/shared/format');
  let shown: { label: string; description?: string; presetId?: string }[] = [];
  fake.quickPicks.push((items) => {
    shown = items as typeof shown;
    return undefined;
  });
  await exec('fisherLens.newRun');
  const desc = (id: string) => shown.find((i) => i.presetId === id)?.description;
  // The three finished fake runs: SimpleCNN without penalty on backend "fake", 50 ms per step.
  const stepsOf = (id: string) => totalSteps(presetConfig(PRESETS.find((p) => p.id === id)!));
  const steps = stepsOf('small-lr');
  assert.equal(
    desc('small-lr'),
    `small-lr · ${steps} steps · ≈ ${eta(0.05 * steps)} on fake (from 3 earlier simplecnn runs, same Tr(F) schedule)`,
  );
  assert.equal(
    desc('small-lr-fp'),
    `small-lr-fp · ${steps} steps · time unknown on fake: no finished simplecnn + penalty run there yet`,
  );
  assert.equal(
    desc('noisy-25'),
    `noisy-25 · ${stepsOf('noisy-25')} steps · time unknown on fake: no finished mlp run there yet`,
  );
});

test('Runs table: rows of config fields and outcomes (validated like every view message); ticked runs open in Compare', async () => {
  const { validateToRunsTable, rowMatches } =
    require('../../src/shared/runsTable') as typeof import('../../src/shared/runsTable');
  await exec('fisherLens.openRunsTable');
  const p = fake.panels.find((x) => x.viewType === 'fisherLens.runsTable' && !x.disposed)!;
  assert.ok(p, 'panel opened');
  assert.match(p.webview.html, /default-src 'none'/);
  assert.match(p.webview.html, /runsTable\.js/);
  p.webview.receive({ type: 'ready' });
  const msg = await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'runsTable'),
    'rows',
  );
  const v = validateToRunsTable(msg);
  assert.ok(v.ok, v.ok ? '' : v.error);
  const rows = v.ok ? v.msg.rows : [];
  assert.equal(rows.length, 3);
  const large = rows.find((r) => r.runId === '20261129-010000-lr-large')!;
  const small = rows.find((r) => r.runId === '20261129-010100-lr-small')!;
  const entry = api.store.get(large.runId)!;
  // Values are the run's own: its config and its measured headline numbers.
  const cfg = entry.config as {
    optimizer: { lr: number; batchSize: number };
    model: { arch: string };
  };
  assert.equal(large.values.lr, cfg.optimizer.lr);
  assert.equal(large.values.batchSize, cfg.optimizer.batchSize);
  assert.equal(large.values.arch, cfg.model.arch);
  assert.equal(large.values.peakTrF, entry.headline.peakTrF);
  assert.equal(large.values.testAcc, entry.headline.testAcc);
  assert.equal(typeof large.values.explosionStep, 'number', 'the exploding run has its step');
  assert.equal(small.values.explosionStep, null, 'the flat run has none');
  assert.deepEqual(small.tags, ['baseline']);
  // The filter language of the table.
  assert.ok(rowMatches('#baseline', small) && !rowMatches('#baseline', large));
  assert.ok(rowMatches('explosionStep>0', large) && !rowMatches('explosionStep>0', small));
  assert.ok(rowMatches(`testAcc<=${large.values.testAcc}`, large));
  assert.ok(!rowMatches('arch=mlp', large) && rowMatches(`arch=${cfg.model.arch}`, large));

  // Compare the ticked runs; a malformed request is ignored.
  p.webview.receive({ type: 'compare', runIds: [large.runId] });
  p.webview.receive({ type: 'compare', runIds: ['../x', large.runId] });
  assert.equal(fake.panels.filter((x) => x.viewType === 'fisherLens.compare').length, 0);
  p.webview.receive({ type: 'compare', runIds: [large.runId, small.runId] });
  const cmp = await until(
    () => fake.panels.find((x) => x.viewType === 'fisherLens.compare' && !x.disposed),
    'compare panel',
  );
  assert.equal(cmp.title, 'Compare 2 runs');
  // Runs change: the table gets new rows.
  const before = p.webview.posted.length;
  await exec('fisherLens.renameRun', small.runId, 'the baseline');
  const next = await until(
    () =>
      p.webview.posted
        .slice(before)
        .find((m) =>
          (m as { rows?: { name?: string }[] }).rows?.some((r) => r.name === 'the baseline'),
        ),
    'renamed row',
  );
  assert.ok(next);
});
