/**
 * The extension host side in plain Node against a fake `vscode`: activation, the runs tree, status bar,
 * launcher (queue, stop, exit codes) with a stand-in trainer CLI, explosion warnings, monitor and compare
 * panels (snapshot + increments, validation, hidden panels get nothing), export, delete.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fake, installFakeVscode, Uri, type FakePanel } from './helpers/fakeVscode';
import { sleep, until } from './helpers/wait';

installFakeVscode();

const { activate } = require('../../src/extension') as typeof import('../../src/extension');
const { writeFakeRun } =
  require('../../src/runs/fakeRun') as typeof import('../../src/runs/fakeRun');
const wp =
  require('../../src/shared/webviewProtocol') as typeof import('../../src/shared/webviewProtocol');
const { trainerConfigProblems } =
  require('../../src/host/configDiagnostics') as typeof import('../../src/host/configDiagnostics');
const { decodeEventFile } =
  require('../../src/shared/tfevents') as typeof import('../../src/shared/tfevents');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-host-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, '.fisherlens', 'runs');
const extDir = path.join(tmp, 'ext');
const cliLog = path.join(tmp, 'cli.jsonl');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;
let memento: {
  keys(): string[];
  get(k: string, d?: unknown): unknown;
  update(k: string, v: unknown): Promise<void>;
};

const exec = (id: string, ...args: unknown[]) => {
  const f = fake.commands.get(id);
  assert.ok(f, `command ${id} registered`);
  return f(...args) as Promise<unknown>;
};
const tree = () => fake.treeViews.find((v) => v.id === 'fisherLens.runs')!;
const treeItems = () =>
  (tree().provider.getChildren() as { runId: string }[]).map(
    (r) =>
      tree().provider.getTreeItem(r) as {
        label: string;
        contextValue: string;
        description: string;
        iconPath: { id: string };
      },
  );
const status = (id: string) =>
  JSON.parse(fs.readFileSync(path.join(runs, id, 'status.json'), 'utf8'));
const cliCalls = () =>
  fs.existsSync(cliLog)
    ? fs
        .readFileSync(cliLog, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

before(async () => {
  fs.mkdirSync(path.join(extDir, 'dist'), { recursive: true });
  fs.copyFileSync(
    path.join(__dirname, 'helpers', 'fakeCli.js'),
    path.join(extDir, 'dist', 'cli.js'),
  );
  fs.mkdirSync(runs, { recursive: true });
  await writeFakeRun(runs, { runId: 'old-completed', steps: 200 });
  await writeFakeRun(runs, { runId: 'old-flat', steps: 200, explosion: false });
  fake.workspaceFolder = ws;
  fake.settings = {
    'fisherLens.nodePath': process.execPath,
    'fisherLens.maxConcurrentRuns': 1,
    'fisherLens.presetOverrides': {
      dataset: { name: 'synthetic', trainSize: 512, testSize: 64 },
      model: { arch: 'mlp', hidden: [16] }, // runnable on 8×8 synthetic inputs (SimpleCNN needs ≥ 12×12)
      schedule: { steps: 30 },
      fisher: { probeSize: 16 },
    },
  };
  process.env.FAKE_CLI_LOG = cliLog;
  ctx = { subscriptions: [] };
  // The workspace memento (vscode.Memento): the monitor keeps its view settings per run there.
  const kept = new Map<string, unknown>();
  memento = {
    keys: () => [...kept.keys()],
    get: (k: string, d?: unknown) => (kept.has(k) ? kept.get(k) : d),
    update: (k: string, v: unknown) => (kept.set(k, v), Promise.resolve()),
  };
  api = activate({
    subscriptions: ctx.subscriptions,
    extensionUri: Uri.file(extDir),
    extensionPath: extDir,
    globalStorageUri: Uri.file(path.join(tmp, 'global')),
    workspaceState: memento,
  } as never);
  await api.store.ready;
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  // chokidar closes its watchers asynchronously: let the closes finish before the folders go.
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('host: activation registers every contributed command, logs its time, lists existing runs', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  for (const c of pkg.contributes.commands) assert.ok(fake.commands.has(c.command), c.command);
  for (const id of [
    'fisherLens.newRun',
    'fisherLens.runConfigFile',
    'fisherLens.stopRun',
    'fisherLens.openMonitor',
    'fisherLens.compareRuns',
    'fisherLens.deleteRun',
    'fisherLens.exportRun',
  ]) {
    assert.ok(
      pkg.contributes.commands.some((c: { command: string }) => c.command === id),
      `${id} contributed`,
    );
  }
  assert.ok(
    fake.log.some((l) => /activated in \d+(\.\d+)? ms/.test(l)),
    'activation time logged',
  );
  assert.ok(
    fake.serializers.has('fisherLens.monitor') && fake.serializers.has('fisherLens.compare'),
  );
  await until(() => treeItems().length === 2, 'two runs in the tree');
  const items = treeItems();
  assert.deepEqual(items.map((i) => i.label).sort(), ['old-completed', 'old-flat']);
  for (const i of items) {
    assert.equal(i.contextValue, 'run.completed.rerunfp', 'the Fisher-penalty rerun applies');
    // The detector's early peak (one definition: it exists once 3 measurements do), flat run or not.
    assert.match(i.description, /^peak \d/);
    assert.match(i.description, /test \d+(\.\d)?%/);
    assert.equal(i.iconPath.id, 'pass');
  }
});

test('host: untrusted workspace launches nothing and says so', async () => {
  fake.reset();
  fake.trusted = false;
  try {
    await exec('fisherLens.newRun', 'small-lr');
    assert.equal(cliCalls().length, 0);
    assert.ok(fake.messages.some((m) => /untrusted workspace/.test(m.text)));
  } finally {
    fake.trusted = true;
  }
});

test('host: New Run launches the trainer with overrides, queues beyond the limit, warns on explosion, stops', async () => {
  fake.reset();
  process.env.FAKE_CLI_STEPS = '400';
  process.env.FAKE_CLI_MS = '15';
  const first = (await exec('fisherLens.newRun', 'small-lr')) as string;
  const second = (await exec('fisherLens.newRun', 'large-lr')) as string;
  assert.match(first, /^\d{8}-\d{6}-small-lr/);
  assert.match(second, /large-lr/);
  // The second waits: its folder exists in state queued, the tree shows it as such.
  assert.equal(status(second).state, 'queued');
  await until(() => cliCalls().length === 1, 'first trainer started');
  const call = cliCalls()[0];
  assert.deepEqual(call.args.slice(0, 1), ['train']);
  assert.equal(call.args[call.args.indexOf('--runs-dir') + 1], runs);
  assert.equal(call.args[call.args.indexOf('--run-id') + 1], first);
  assert.ok(call.args.includes('--quiet'));
  assert.ok(!call.args.includes('--backend'), 'backend auto: the config decides');
  assert.equal(call.config.dataset.name, 'synthetic');
  assert.equal(call.config.schedule.steps, 30);
  assert.equal(call.config.optimizer.lr, 0.005);
  await until(
    () =>
      treeItems()
        .find((i) => i.label === second)
        ?.contextValue?.startsWith('run.queued'),
    'queued item',
  );
  await until(
    () => treeItems().find((i) => i.label === first)?.contextValue === 'run.running.rerunfp',
    'running item',
  );
  assert.equal(treeItems().find((i) => i.label === first)!.iconPath.id, 'sync~spin');

  // Explosion warning naming the run and the rise, with both actions.
  const warn = await until(
    () =>
      fake.messages.find((m) =>
        /^Fisher explosion in small-lr: early peak [\d.]+ at step 40 is 4\.2× its Tr\(F\) at initialisation \(step 0\) [\d.]+ \(detected at step 45\)\.$/.test(
          m.text,
        ),
      ),
    'explosion warning',
  );
  assert.deepEqual(warn.items, ['Open Monitor', 'Rerun with Fisher Penalty']);

  // Status bar shows the active run.
  const bar = fake.statusItems.find((s) => s.visible)!;
  assert.match(
    bar.text,
    /^\$\(pulse\) Tr\(F\) [\d.]+ · step \d+ · running( · ETA (\d+s|\d+m\d\ds))?$/,
  );

  // Stop the running one: it ends as stopped; the queued one starts.
  await exec('fisherLens.stopRun', first);
  assert.ok(fs.existsSync(path.join(runs, first, 'STOP')));
  await until(() => status(first).state === 'stopped' && status(first), 'first stopped');
  await until(() => cliCalls().length === 2, 'queued run started');
  assert.equal(cliCalls()[1].args[cliCalls()[1].args.indexOf('--run-id') + 1], second);
  await exec('fisherLens.stopRun', second);
  await until(() => status(second).state === 'stopped', 'second stopped');
});

test('host: a trainer that rejects its config leaves a failed run and an error naming the field', async () => {
  fake.reset();
  process.env.FAKE_CLI_EXIT = '2';
  try {
    const id = (await exec('fisherLens.newRun', 'large-lr')) as string;
    await until(
      () =>
        fake.messages.find(
          (m) => m.level === 'error' && /invalid run config: .*optimizer\.lr/.test(m.text),
        ),
      'error message',
    );
    await until(() => status(id).state === 'failed', 'failed status');
    assert.match(status(id).error, /invalid config/);
    // A preset has no file of its own: the reason is a problem of the run's config.json, at the field.
    const cfg = path.join(runs, id, 'config.json');
    const d = await until(() => fake.diagnostics.get(cfg), 'a problem on the config');
    assert.deepEqual(
      d.map((x) => x.message),
      ['optimizer.lr: got -1; must be > 0'],
    );
    const lines = fs.readFileSync(cfg, 'utf8').split('\n');
    assert.match(lines[d[0].range.start.line], /"lr"/);
  } finally {
    delete process.env.FAKE_CLI_EXIT;
  }
});

test('host: Run Config File on a config the trainer refuses at run time: the reason in the Problems panel, on that file', async () => {
  fake.reset();
  const file = path.join(ws, 'nodata.fisher.json');
  const text =
    '{\n  "dataset": {\n    "name": "mnist",\n    "path": "/nonexistent/data"\n  },\n  "schedule": { "steps": 5 }\n}\n';
  fs.writeFileSync(file, text);
  process.env.FAKE_CLI_EXIT = '2';
  process.env.FAKE_CLI_STDERR = `fisher-lens: ${path.join(runs, 'x', 'config.json')}: dataset.path: /nonexistent/data does not exist; expected a folder with the dataset files\n`;
  try {
    const id = (await exec('fisherLens.runConfigFile', Uri.file(file))) as string;
    assert.ok(id, 'launched');
    const d = await until(() => fake.diagnostics.get(file), 'a problem on the file');
    assert.equal(
      d[0].message,
      'dataset.path: /nonexistent/data does not exist; expected a folder with the dataset files',
    );
    assert.equal(d[0].range.start.line, 3, 'at "path" inside "dataset"');
    await until(() => status(id).state === 'failed', 'failed status');
  } finally {
    delete process.env.FAKE_CLI_EXIT;
    delete process.env.FAKE_CLI_STDERR;
  }
});

test('trainerConfigProblems: each problem of the stderr once, without the file; nothing else', () => {
  assert.deepEqual(
    trainerConfigProblems(
      [
        'fisher-lens: /r/x/config.json: invalid run config:',
        '  - optimizer.lr: got -1; must be > 0',
        '  - schedule: got both schedule.epochs (2) and schedule.steps (5); give one of them',
        'fisher-lens: C:\\r\\config.json: dataset.path: /d does not exist',
        'The kernel is already registered',
        '    at foo (x.js:1:2)',
      ].join('\n'),
    ),
    [
      'optimizer.lr: got -1; must be > 0',
      'schedule: got both schedule.epochs (2) and schedule.steps (5); give one of them',
      'dataset.path: /d does not exist',
    ],
  );
  assert.deepEqual(
    trainerConfigProblems('invalid run config: seed: got -1\nSegmentation fault\n'),
    ['seed: got -1'],
  );
  assert.deepEqual(trainerConfigProblems('Segmentation fault\n'), []);
});

test('host: New Run… of the small-LR preset with no finished η* run offers to run the η* preset first; it then waits for it and is compared with it', async () => {
  fake.reset();
  process.env.FAKE_CLI_STEPS = '60';
  process.env.FAKE_CLI_MS = '15';
  process.env.FAKE_CLI_PEAK = '1'; // finished runs have an early peak: they can be references
  const saved = { ...fake.settings };
  // A set-up of its own (no finished runs of it yet), two slots: the wait is the dependency, not the limit.
  fake.settings['fisherLens.maxConcurrentRuns'] = 2;
  fake.settings['fisherLens.presetOverrides'] = {
    ...(saved['fisherLens.presetOverrides'] as object),
    dataset: { name: 'synthetic', trainSize: 384, testSize: 64 },
  };
  const before = cliCalls().length;
  try {
    let offered: string[] = [];
    fake.quickPicks.push((items) =>
      (items as { label: string; presetId?: string }[]).find((i) => i.presetId === 'small-lr'),
    );
    fake.quickPicks.push((items) => {
      offered = (items as { label: string }[]).map((i) => i.label);
      return (items as { plan: string }[]).find((i) => i.plan === 'first');
    });
    const small = (await exec('fisherLens.newRun')) as string;
    assert.match(small, /small-lr/);
    assert.deepEqual(offered, [
      'Run Small learning rate (η*/10) alone',
      'Run Large learning rate (η*) first, then Small learning rate (η*/10)',
    ]);
    await until(() => cliCalls().length === before + 1, 'the η* run started');
    const large = cliCalls()[before].args[cliCalls()[before].args.indexOf('--run-id') + 1];
    assert.match(large, /large-lr/);
    assert.equal(cliCalls()[before].config.optimizer.lr, 0.05);
    // A free slot, and still it waits for the η* run.
    assert.equal(status(small).state, 'queued');
    await until(() => status(large).state === 'completed', 'the η* run completed');
    const call = await until(() => cliCalls()[before + 1], 'the small-LR run started after it');
    assert.equal(call.args[call.args.indexOf('--run-id') + 1], small);
    assert.equal(
      call.args[call.args.indexOf('--reference') + 1],
      path.join(runs, large),
      'compared with the η* run',
    );
    await until(() => status(small).state === 'completed', 'small-LR run completed');

    // Now that one has finished, the next small-LR run is not asked: it is compared with it at once.
    fake.quickPicks.push((items) =>
      (items as { presetId?: string }[]).find((i) => i.presetId === 'small-lr-fp'),
    );
    const fp = (await exec('fisherLens.newRun')) as string;
    assert.match(fp, /small-lr-fp/);
    assert.equal(fake.quickPicks.length, 0);
    const fpCall = await until(() => cliCalls()[before + 2], 'the penalised run started');
    assert.equal(fpCall.args[fpCall.args.indexOf('--reference') + 1], path.join(runs, large));
    await until(() => status(fp).state === 'completed', 'penalised run completed');

    // Dismissing the offer starts nothing; "alone" starts the run with no reference.
    fake.settings['fisherLens.presetOverrides'] = {
      ...(saved['fisherLens.presetOverrides'] as object),
      dataset: { name: 'synthetic', trainSize: 320, testSize: 64 },
    };
    fake.quickPicks.push((items) =>
      (items as { presetId?: string }[]).find((i) => i.presetId === 'small-lr'),
    );
    fake.quickPicks.push(() => undefined);
    assert.equal(await exec('fisherLens.newRun'), undefined);
    assert.equal(cliCalls().length, before + 3);
    fake.quickPicks.push((items) =>
      (items as { presetId?: string }[]).find((i) => i.presetId === 'small-lr'),
    );
    fake.quickPicks.push((items) => (items as { plan: string }[]).find((i) => i.plan === 'alone'));
    const alone = (await exec('fisherLens.newRun')) as string;
    const aloneCall = await until(() => cliCalls()[before + 3], 'the lone run started');
    assert.equal(aloneCall.args[aloneCall.args.indexOf('--run-id') + 1], alone);
    assert.ok(!aloneCall.args.includes('--reference'));
    await until(() => status(alone).state === 'completed', 'lone run completed');

    // An η* run of the set-up still training: the offer is to wait for it.
    fake.settings['fisherLens.presetOverrides'] = {
      ...(saved['fisherLens.presetOverrides'] as object),
      dataset: { name: 'synthetic', trainSize: 288, testSize: 64 },
    };
    process.env.FAKE_CLI_STEPS = '200';
    const eta = (await exec('fisherLens.newRun', 'large-lr')) as string; // by id: no offer
    fake.quickPicks.push((items) =>
      (items as { presetId?: string }[]).find((i) => i.presetId === 'small-lr'),
    );
    let waitOffer = '';
    fake.quickPicks.push((items) => {
      const w = (items as { plan: string; label: string }[]).find((i) => i.plan === 'after');
      waitOffer = w?.label ?? '';
      return w;
    });
    const waits = (await exec('fisherLens.newRun')) as string;
    assert.match(
      waitOffer,
      /^Wait for large-lr \(lr 0\.05, (queued|running)\), then run Small learning rate/,
    );
    assert.equal(status(waits).state, 'queued');
    await until(() => status(eta).state === 'completed', 'the η* run completed');
    const waitsCall = await until(
      () => cliCalls().find((c) => c.args[c.args.indexOf('--run-id') + 1] === waits),
      'the waiting run started',
    );
    assert.equal(waitsCall.args[waitsCall.args.indexOf('--reference') + 1], path.join(runs, eta));
    await until(() => status(waits).state === 'completed', 'waiting run completed');
  } finally {
    fake.settings = saved;
    delete process.env.FAKE_CLI_PEAK;
  }
});

test('host: invalid presetOverrides are reported, nothing starts', async () => {
  fake.reset();
  const before = cliCalls().length;
  const saved = fake.settings['fisherLens.presetOverrides'];
  fake.settings['fisherLens.presetOverrides'] = { optimizer: { lr: -1 } };
  try {
    assert.equal(await exec('fisherLens.newRun', 'small-lr'), undefined);
    assert.ok(fake.messages.some((m) => m.level === 'error' && /optimizer\.lr/.test(m.text)));
    assert.equal(cliCalls().length, before);
  } finally {
    fake.settings['fisherLens.presetOverrides'] = saved;
  }
});

function lastPanel(viewType: string): FakePanel {
  const p = [...fake.panels].reverse().find((x) => x.viewType === viewType && !x.disposed);
  assert.ok(p, `${viewType} panel`);
  return p;
}

test('host: monitor panel — strict CSP, snapshot on ready, validated increments, nothing while hidden', async () => {
  fake.reset();
  const id = 'live-monitor';
  const live = writeFakeRun(runs, { runId: id, steps: 3000 }, { replayMs: 30, chunkSteps: 5 });
  await until(() => api.store.get(id)?.state === 'running', 'live run listed');
  await exec('fisherLens.openMonitor', id);
  const p = lastPanel('fisherLens.monitor');
  const html = p.webview.html;
  assert.match(
    html,
    /Content-Security-Policy" content="default-src 'none'; img-src [^;]+; style-src [^;]+; font-src [^;]+; script-src 'nonce-[A-Za-z0-9]+'"/,
  );
  assert.ok(!/<script(?![^>]*nonce=)/.test(html), 'every script has a nonce');
  assert.ok(!/style=/.test(html), 'no inline style attribute');
  for (const hook of ['id="chart-trf"', 'data-points="0"', 'id="run-state"', 'id="stop-button"'])
    assert.ok(html.includes(hook), hook);
  const roots = (p.webview.options as { localResourceRoots: Uri[] }).localResourceRoots
    .map((u) => path.relative(extDir, u.fsPath))
    .sort();
  assert.deepEqual(roots, [path.join('dist', 'webview'), 'media']);

  p.webview.receive({ type: 'ready' });
  const snap = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'snapshot'),
    'snapshot',
  )) as unknown;
  const v = wp.validateToMonitor(snap);
  assert.ok(v.ok, !v.ok ? v.error : '');
  const n0 = (snap as { series: { fisher: { trF: unknown[] } } }).series.fisher.trF.length;
  const inc = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'events'),
    'increment',
  )) as unknown;
  assert.ok(wp.validateToMonitor(inc).ok);

  // Malformed messages from the webview are dropped and logged, never acted on.
  const stops = fs.existsSync(path.join(runs, id, 'STOP'));
  p.webview.receive({ type: 'stop', runId: '../../etc' });
  p.webview.receive({ type: 'nonsense' });
  p.webview.receive(null);
  assert.equal(fs.existsSync(path.join(runs, id, 'STOP')), stops);
  assert.ok(fake.log.filter((l) => /dropped a malformed message/.test(l)).length >= 3);

  // Hidden: no increments; visible again + ready: a fresh snapshot.
  p.setVisible(false);
  await sleep(100);
  const count = p.webview.posted.length;
  await sleep(400);
  assert.equal(p.webview.posted.length, count, 'hidden panels get nothing');
  p.setVisible(true);
  p.webview.receive({ type: 'ready' });
  const snap2 = (await until(
    () => p.webview.posted.slice(count).find((m) => (m as { type: string }).type === 'snapshot'),
    'second snapshot',
  )) as { series: { fisher: { trF: unknown[] } } };
  assert.ok(snap2.series.fisher.trF.length > n0);

  // Stop from the webview.
  p.webview.receive({ type: 'stop', runId: id });
  await live;
  assert.equal(status(id).state, 'stopped');
  await until(
    () =>
      p.webview.posted.some(
        (m) =>
          (m as { type: string; state?: string }).type === 'state' &&
          (m as { state: string }).state === 'stopped',
      ),
    'state message',
  );

  // View settings: kept for the run (validated), and the run's monitor opens with them again.
  p.webview.receive({
    type: 'viewSettings',
    runId: id,
    settings: { xAxis: 'epoch', smoothing: 0.9, logScale: true },
  });
  p.webview.receive({
    type: 'viewSettings',
    runId: id,
    settings: { xAxis: 'epoch', smoothing: 7, logScale: true },
  });
  assert.deepEqual((memento.get('fisherLens.monitorSettings') as Record<string, unknown>)[id], {
    xAxis: 'epoch',
    smoothing: 0.9,
    logScale: true,
  });
  p.dispose();
  await exec('fisherLens.openMonitor', id);
  const reopened = lastPanel('fisherLens.monitor');
  assert.notEqual(reopened, p);
  const attr = /data-settings="([^"]*)"/.exec(reopened.webview.html)?.[1] ?? '';
  assert.deepEqual(JSON.parse(attr.replace(/&quot;/g, '"')), {
    xAxis: 'epoch',
    smoothing: 0.9,
    logScale: true,
  });
  assert.match(reopened.webview.html, /<vscode-option value="epoch" selected>/);
  reopened.dispose();
});

test('host: compare panel snapshot, delete refuses running runs, export writes CSV and TensorBoard', async () => {
  fake.reset();
  await exec('fisherLens.compareRuns', undefined, [
    { runId: 'old-completed' },
    { runId: 'old-flat' },
  ]);
  const p = lastPanel('fisherLens.compare');
  assert.ok(
    p.webview.html.includes('id="compare-legend"') && p.webview.html.includes('id="summary-table"'),
  );
  assert.equal((p.webview.html.match(/class="legend-item"/g) ?? []).length, 2);
  p.webview.receive({ type: 'ready' });
  const snap = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'compareSnapshot'),
    'compare snapshot',
  )) as { runs: unknown[] };
  assert.ok(wp.validateToCompare(snap).ok);
  assert.equal(snap.runs.length, 2);

  // Delete: a running run is refused; a finished one goes after confirmation.
  const id = 'running-for-delete';
  const live = writeFakeRun(runs, { runId: id, steps: 3000 }, { replayMs: 30, chunkSteps: 5 });
  await until(() => api.store.get(id)?.state === 'running', 'running');
  await exec('fisherLens.deleteRun', id);
  assert.ok(fake.messages.some((m) => /Cannot delete running-for-delete/.test(m.text)));
  assert.ok(fs.existsSync(path.join(runs, id)));
  fs.writeFileSync(path.join(runs, id, 'STOP'), '');
  await live;

  const out = path.join(tmp, 'exports');
  const files = (await exec('fisherLens.exportRun', 'old-completed', {
    formats: ['csv', 'tensorboard'],
    dir: out,
  })) as string[];
  assert.equal(files.length, 2);
  const csv = fs.readFileSync(path.join(out, 'old-completed', 'old-completed.csv'), 'utf8');
  assert.match(csv.split('\n')[0], /^step,epoch,time_s,loss,/);
  const tb = files.find((f) => path.basename(f).startsWith('events.out.tfevents.'))!;
  const events = decodeEventFile(new Uint8Array(fs.readFileSync(tb)));
  assert.ok(events.some((e) => e.scalars.some((s) => s.tag === 'fisher/trF')));

  fake.answers.push({ match: /^Delete run old-flat/, answer: 'Delete' });
  await exec('fisherLens.deleteRun', 'old-flat');
  assert.ok(!fs.existsSync(path.join(runs, 'old-flat')));
  await until(
    () => !treeItems().some((i) => i.label === 'old-flat'),
    'deleted run leaves the tree',
  );
});

/** A webview panel as VS Code creates one to restore after a reload. */
const createPanelForTest = (viewType: string): FakePanel =>
  (
    require('vscode') as { window: { createWebviewPanel(...a: unknown[]): FakePanel } }
  ).window.createWebviewPanel(viewType, 'restored', -1, {});

test('host: every webview panel survives a reload: a serializer and an activation event per view type; the Runs Table revives with its rows', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  for (const viewType of ['fisherLens.monitor', 'fisherLens.compare', 'fisherLens.runsTable']) {
    assert.ok(fake.serializers.has(viewType), `a serializer for ${viewType}`);
    assert.ok(
      pkg.activationEvents.includes(`onWebviewPanel:${viewType}`),
      `onWebviewPanel:${viewType} activates the extension`,
    );
  }
  fake.reset();
  // VS Code hands a restored panel to the serializer after a reload (here: a panel it created).
  const restored = createPanelForTest('fisherLens.runsTable');
  const ser = fake.serializers.get('fisherLens.runsTable') as {
    deserializeWebviewPanel(p: unknown, state: unknown): Promise<void>;
  };
  await ser.deserializeWebviewPanel(restored, undefined);
  assert.match(restored.webview.html, /id="runs-table"/);
  restored.webview.receive({ type: 'ready' });
  const msg = (await until(
    () => restored.webview.posted.find((m) => (m as { type: string }).type === 'runsTable'),
    'the rows',
  )) as { rows: { runId: string }[] };
  assert.ok(
    msg.rows.some((r) => r.runId === 'old-completed'),
    JSON.stringify(msg.rows),
  );
  // Opening the table now reveals the restored one; a second restored panel is closed.
  await exec('fisherLens.openRunsTable');
  assert.equal(fake.panels.filter((p) => p.viewType === 'fisherLens.runsTable').length, 1);
  const twice = createPanelForTest('fisherLens.runsTable');
  await ser.deserializeWebviewPanel(twice, undefined);
  assert.equal(twice.disposed, true);
  restored.dispose();
});

test('host: PNG export is a request/reply round trip with the monitor; a late or unknown reply is ignored', async () => {
  fake.reset();
  const out = path.join(tmp, 'exports-png');
  const pending = exec('fisherLens.exportRun', 'old-completed', {
    formats: ['png'],
    dir: out,
  }) as Promise<string[]>;
  const p = await until(
    () =>
      [...fake.panels]
        .reverse()
        .find(
          (x) =>
            x.viewType === 'fisherLens.monitor' &&
            !x.disposed &&
            /old-completed/.test(x.webview.html),
        ),
    'monitor for the export',
  );
  p.webview.receive({ type: 'ready' });
  const req = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'exportPng'),
    'exportPng request',
    5000,
  )) as { requestId: number };
  // A reply to a request nobody made changes nothing; the right one settles it.
  p.webview.receive({
    type: 'png',
    requestId: req.requestId + 1000,
    dataUrl: null,
    error: 'stray',
  });
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  p.webview.receive({
    type: 'png',
    requestId: req.requestId,
    dataUrl: `data:image/png;base64,${png.toString('base64')}`,
    error: null,
  });
  const files = await pending;
  assert.deepEqual(
    files.map((f) => path.basename(f)),
    ['old-completed.png'],
  );
  assert.deepEqual(fs.readFileSync(files[0]), png);
  // The webview's error comes back as the export's error.
  const failing = exec('fisherLens.exportRun', 'old-completed', {
    formats: ['png'],
    dir: path.join(tmp, 'exports-png2'),
  }) as Promise<string[]>;
  const req2 = (await until(
    () => p.webview.posted.filter((m) => (m as { type: string }).type === 'exportPng')[1],
    'second request',
    5000,
  )) as { requestId: number };
  assert.notEqual(req2.requestId, req.requestId);
  p.webview.receive({
    type: 'png',
    requestId: req2.requestId,
    dataUrl: null,
    error: 'canvas is tainted',
  });
  assert.deepEqual(await failing, []);
  assert.ok(
    fake.messages.some(
      (m) =>
        m.level === 'error' && /Export of old-completed failed: canvas is tainted/.test(m.text),
    ),
  );
  p.dispose();
});

test('host: Run Python Script with Fisher Lens launches `fisher-lens run -- <python> <script>` in its folder and opens the monitor', async () => {
  const script = path.join(ws, 'my_train.py');
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(script, 'print("training")\n');
  const n = cliCalls().length;
  const id = (await exec('fisherLens.runPythonScript', Uri.file(script))) as string;
  assert.match(id, /my_train/);
  const call = await until(
    () =>
      cliCalls()
        .slice(n)
        .find((c) => c.args[0] === 'run'),
    'the trainer started with `run`',
  );
  const dash = call.args.indexOf('--');
  assert.ok(dash > 0, JSON.stringify(call.args));
  assert.deepEqual(call.args.slice(dash + 2), [script]);
  assert.ok(call.args.slice(dash + 1, dash + 2)[0].length > 0, 'an interpreter');
  assert.deepEqual(call.args.slice(1, dash), ['--runs-dir', runs, '--run-id', id, '--quiet']);
  assert.equal(fs.realpathSync(call.cwd), fs.realpathSync(ws));
  const cfg = JSON.parse(fs.readFileSync(path.join(runs, id, 'config.json'), 'utf8'));
  assert.equal(cfg.kind, 'script');
  assert.equal(cfg.name, 'my_train');
  assert.deepEqual(cfg.command.slice(-1), [script]);
  assert.ok(fake.panels.some((p: FakePanel) => p.viewType === 'fisherLens.monitor'));
  await until(() => status(id).state === 'completed', 'the run completes');
  const none = (await exec(
    'fisherLens.runPythonScript',
    Uri.file(path.join(ws, 'x.fisher.json')),
  )) as string | undefined;
  assert.equal(none, undefined, 'only .py files');
});
