/**
 * Crafted run folders against the extension host (fake vscode): no command link reaches a notification,
 * tooltips and quick picks are escaped and untrusted, damaged runs are listed with their problems named,
 * explosion warnings only for this window's live runs in a trusted workspace, and STOP / export / delete
 * never write or delete through a planted symlink.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fake, installFakeVscode, Uri, fakeMemento } from './helpers/fakeVscode';
import { sleep, until } from './helpers/wait';

installFakeVscode();

const { activate } = require('../../src/extension') as typeof import('../../src/extension');
const { ExplosionWatch } =
  require('../../src/host/explosionWatch') as typeof import('../../src/host/explosionWatch');
const { noIcons, noLinks, markdownText } =
  require('../../src/host/sanitize') as typeof import('../../src/host/sanitize');
const { fakeConfig, fakeRunEvents, fakeSummary } =
  require('../../src/runs/fakeRun') as typeof import('../../src/runs/fakeRun');
const wp =
  require('../../src/shared/webviewProtocol') as typeof import('../../src/shared/webviewProtocol');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-hostu-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, '.fisherlens', 'runs');
const outside = path.join(tmp, 'outside');
const extDir = path.join(tmp, 'ext');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;

const EVIL = '[x](command:workbench.action.terminal.new)';
/** A `[text](target)` link as VS Code's notifications render it (command:, http(s):, file:). */
const LINK = /\[[^\]]*\]\((?:command:|https?:|file:)/i;
const exec = (id: string, ...args: unknown[]) =>
  fake.commands.get(id)!(...args) as Promise<unknown>;
type Item = {
  label: string;
  description: string;
  tooltip: {
    value: string;
    isTrusted?: boolean;
    supportHtml?: boolean;
    supportThemeIcons?: boolean;
  };
  contextValue: string;
};
const tree = () => fake.treeViews.find((v) => v.id === 'fisherLens.runs')!;
const items = () =>
  (tree().provider.getChildren() as { runId: string }[]).map(
    (r) => tree().provider.getTreeItem(r) as Item,
  );
const item = (id: string) => items().find((i) => i.label === id);

function writeRun(
  id: string,
  o: {
    config?: unknown;
    status?: unknown;
    summary?: unknown;
    extraEvents?: unknown[];
    root?: string;
  } = {},
) {
  const dir = path.join(o.root ?? runs, id);
  fs.mkdirSync(dir, { recursive: true });
  const fo = { runId: id.replace(/[^A-Za-z0-9._-]/g, '-'), steps: 120, t0: Date.now() - 60_000 };
  const events = fakeRunEvents(fo);
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(o.config ?? fakeConfig(fo)));
  fs.writeFileSync(
    path.join(dir, 'events.jsonl'),
    [...events, ...(o.extraEvents ?? [])].map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
  const now = new Date().toISOString();
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify(
      o.status ?? {
        runId: id,
        state: 'completed',
        step: 120,
        totalSteps: 120,
        pid: null,
        host: os.hostname(),
        jobId: null,
        startedAt: now,
        updatedAt: now,
        error: null,
      },
    ),
  );
  if (o.summary !== null)
    fs.writeFileSync(
      path.join(dir, 'summary.json'),
      JSON.stringify(o.summary ?? fakeSummary(fo, events)),
    );
  return dir;
}

before(async () => {
  fs.mkdirSync(path.join(extDir, 'dist'), { recursive: true });
  fs.copyFileSync(
    path.join(__dirname, 'helpers', 'fakeCli.js'),
    path.join(extDir, 'dist', 'cli.js'),
  );
  fs.mkdirSync(runs, { recursive: true });
  fs.mkdirSync(outside, { recursive: true });
  const now = Date.now();
  const fresh = new Date(now).toISOString();
  // A crafted run: "running" on another host with a fresh heartbeat, a config naming a command link, a
  // future-dated explosion and a fresh one.
  writeRun('evil', {
    config: { ...fakeConfig({ runId: 'evil' }), name: EVIL },
    status: {
      runId: 'evil',
      state: 'running',
      step: 50,
      totalSteps: 100,
      pid: 1,
      host: 'elsewhere',
      startedAt: fresh,
      updatedAt: fresh,
      heartbeatSeconds: 3600,
      error: EVIL,
    },
    summary: null,
    extraEvents: [
      {
        type: 'detector',
        t: now + 3600_000,
        step: 60,
        kind: 'explosion',
        value: 99,
        rise: 9,
        message: EVIL,
      },
      { type: 'detector', t: now, step: 61, kind: 'explosion', value: 99, rise: 9, message: EVIL },
    ],
  });
  writeRun('empty-summary', { summary: {} });
  const good = fakeSummary({ runId: 'x', steps: 120 }, fakeRunEvents({ runId: 'x', steps: 120 }));
  writeRun('wrong-types', { summary: { ...good, peakTrF: 'huge' } });
  const { peakTrF: _p, ...noPeak } = good;
  void _p;
  writeRun('no-peak', { summary: noPeak });
  writeRun('odd-state', { status: { runId: 'odd-state', state: 'exploded' }, summary: null });
  // Outside the runs root: a run reached through a symlinked folder, and files planted links point to.
  writeRun('outside-run', { root: outside });
  fs.symlinkSync(path.join(outside, 'outside-run'), path.join(runs, 'linked'));
  fs.writeFileSync(path.join(outside, 'precious.txt'), 'precious');

  fake.workspaceFolder = ws;
  fake.settings = { 'fisherLens.nodePath': process.execPath, 'fisherLens.maxConcurrentRuns': 1 };
  ctx = { subscriptions: [] };
  api = activate({
    subscriptions: ctx.subscriptions,
    extensionUri: Uri.file(extDir),
    extensionPath: extDir,
    globalStorageUri: Uri.file(path.join(tmp, 'global')),
    workspaceState: fakeMemento(),
  } as never);
  await api.store.ready;
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  await sleep(300);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('sanitizers: no links, no icons, markdown fully escaped', () => {
  assert.ok(!LINK.test(noLinks(EVIL)));
  assert.equal(noIcons('$(alert) x'), '\\$(alert) x');
  assert.ok(!/[^\\]\]\(/.test(markdownText(EVIL)));
  assert.equal(noLinks('a\u202Eb\nc'), 'ab c');
});

test('crafted and damaged runs: listed with problems named, escaped and untrusted tooltips, no links anywhere', async () => {
  await until(() => items().length === 5, 'five runs listed');
  assert.deepEqual(
    items()
      .map((i) => i.label)
      .sort(),
    ['empty-summary', 'evil', 'no-peak', 'odd-state', 'wrong-types'],
  );
  assert.ok(
    fake.log.some((l) => /skipped "linked": a symbolic link/.test(l)),
    'the symlinked run folder is skipped and logged',
  );
  for (const i of items()) {
    assert.equal(i.tooltip.isTrusted, false);
    assert.equal(i.tooltip.supportHtml, false);
    assert.notEqual(i.tooltip.supportThemeIcons, true);
    assert.ok(
      !/[^\\]\]\(/.test(i.tooltip.value),
      `${i.label}: no link syntax in the tooltip: ${i.tooltip.value}`,
    );
    assert.ok(!LINK.test(i.description));
  }
  assert.match(item('wrong-types')!.description, /summary\.json: peakTrF/);
  assert.match(item('no-peak')!.tooltip.value, /summary\\\.json\\: peakTrF/);
  assert.match(item('empty-summary')!.description, /⚠ summary\.json/);
  assert.match(item('odd-state')!.description, /status\.json: state/);
  assert.match(item('evil')!.description, /config\.json: name/);
  assert.ok(
    item('evil')!.tooltip.value.includes('command\\:workbench\\.action'),
    'the error text is escaped, not dropped',
  );

  // Quick picks over every run: built without throwing, the bad fields named, no icons or links.
  let picked: { label: string; description: string; detail: string }[] = [];
  fake.quickPicks.push((its) => {
    picked = its as typeof picked;
    return undefined;
  });
  await exec('fisherLens.openMonitor');
  assert.equal(picked.length, 5);
  assert.match(picked.find((p) => p.label === 'no-peak')!.detail, /summary\.json: peakTrF/);
  for (const p of picked)
    assert.ok(!LINK.test(p.detail) && !/(^|[^\\])\$\(/.test(p.detail + p.label));

  // No notification carries a link; the crafted explosion raised none (not this window's run).
  await sleep(500);
  for (const m of fake.messages) assert.ok(!LINK.test(m.text), m.text);
  assert.ok(!fake.messages.some((m) => /Fisher explosion/.test(m.text)));
});

test('monitor of a run with a bad status.json: a valid snapshot with the charts, the bad field named, Stop disabled', async () => {
  fake.reset();
  await exec('fisherLens.openMonitor', 'odd-state');
  const p = [...fake.panels]
    .reverse()
    .find((x) => x.viewType === 'fisherLens.monitor' && !x.disposed)!;
  p.webview.receive({ type: 'ready' });
  const snap = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'snapshot'),
    'snapshot',
  )) as { series: { fisher: { trF: unknown[] } }; state: string };
  assert.ok(wp.validateToMonitor(snap).ok);
  assert.ok(snap.series.fisher.trF.length > 0, 'charts from the events');
  assert.notEqual(snap.state, 'running');
  const st = (await until(
    () => p.webview.posted.find((m) => (m as { type: string }).type === 'state'),
    'state message',
  )) as { message: string };
  assert.match(st.message, /status\.json: state/);
  p.dispose();
});

test("explosion warnings: only for this window's live runs, fresh events, trusted workspaces; the name has no link", async () => {
  const emitter = new (require('./helpers/fakeVscode').EventEmitter)();
  const info = { runId: 'r', name: EVIL, state: 'running', stale: null, config: null };
  const store = { onEvents: emitter.event, get: () => info, series: () => null } as never;
  let local = false;
  const w = new ExplosionWatch(
    store,
    { openMonitor: () => undefined, rerunWithPenalty: () => undefined },
    { isLocalLive: () => local },
  );
  const fire = (runId: string, t: number) =>
    emitter.fire({
      runId,
      initial: false,
      reset: false,
      events: [
        { type: 'detector', t, step: 60, kind: 'explosion', value: 9, rise: 4, message: EVIL },
      ],
    });
  fake.reset();
  fire('a', Date.now());
  local = true;
  fire('b', Date.now() + 3600_000);
  fire('c', Date.now() - 3600_000);
  fake.trusted = false;
  fire('d', Date.now());
  fake.trusted = true;
  await sleep(50);
  assert.equal(fake.messages.length, 0, fake.messages.map((m) => m.text).join('\n'));
  fire('e', Date.now());
  await sleep(50);
  assert.equal(fake.messages.length, 1);
  assert.match(fake.messages[0].text, /^Fisher explosion in ［x］\(command:/);
  assert.ok(!LINK.test(fake.messages[0].text));
  w.dispose();
});

test('Stop never writes through a STOP symlink; delete never follows a symlink; export refuses symlinked outputs', async () => {
  fake.reset();
  // A live run of ours on this host (pid alive, fresh heartbeat) whose STOP is a symlink to a file outside.
  const now = new Date().toISOString();
  const dir = writeRun('stop-link', {
    status: {
      runId: 'stop-link',
      state: 'running',
      step: 1,
      totalSteps: 100,
      pid: process.pid,
      host: os.hostname(),
      startedAt: now,
      updatedAt: now,
      heartbeatSeconds: 3600,
      error: null,
    },
    summary: null,
  });
  fs.symlinkSync(path.join(outside, 'precious.txt'), path.join(dir, 'STOP'));
  await until(() => api.store.get('stop-link')?.state === 'running', 'live run listed');
  await exec('fisherLens.stopRun', 'stop-link');
  assert.equal(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'precious');
  assert.ok(
    fake.log.some((l) => /refused to write STOP: .*symbolic link/.test(l)),
    fake.log.join('\n'),
  );
  // A plain STOP that already exists is fine; a fresh one is created exclusively.
  fs.rmSync(path.join(dir, 'STOP'));
  await exec('fisherLens.stopRun', 'stop-link');
  assert.match(fs.readFileSync(path.join(dir, 'STOP'), 'utf8'), /stop requested/);
  await exec('fisherLens.stopRun', 'stop-link');

  // Export: <dir>/<runId>/<runId>.csv planted as a symlink to a file outside: refused, the file untouched.
  const exp = path.join(tmp, 'exports');
  fs.mkdirSync(path.join(exp, 'wrong-types'), { recursive: true });
  fs.symlinkSync(
    path.join(outside, 'precious.txt'),
    path.join(exp, 'wrong-types', 'wrong-types.csv'),
  );
  const written = (await exec('fisherLens.exportRun', 'wrong-types', {
    formats: ['csv'],
    dir: exp,
  })) as string[];
  assert.deepEqual(written, []);
  assert.equal(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'precious');
  assert.ok(
    fake.messages.some(
      (m) => m.level === 'error' && /symbolic link; not written through/.test(m.text),
    ),
  );
  // The run's export folder itself a symlink to outside: refused, nothing written there.
  const exp2 = path.join(tmp, 'exports2');
  fs.mkdirSync(exp2);
  fs.symlinkSync(outside, path.join(exp2, 'no-peak'));
  assert.deepEqual(
    await exec('fisherLens.exportRun', 'no-peak', { formats: ['csv', 'tensorboard'], dir: exp2 }),
    [],
  );
  assert.deepEqual(fs.readdirSync(outside).sort(), ['outside-run', 'precious.txt']);
  // A normal export still works (temp file + rename).
  const ok = (await exec('fisherLens.exportRun', 'empty-summary', {
    formats: ['csv', 'tensorboard'],
    dir: exp,
  })) as string[];
  assert.equal(ok.length, 2);
  assert.deepEqual(
    fs.readdirSync(path.join(exp, 'empty-summary')).filter((f) => f.endsWith('.tmp')),
    [],
  );

  // Delete: a run holding a symlink to a folder outside removes the link, not the target.
  const del = writeRun('del-me');
  fs.symlinkSync(outside, path.join(del, 'checkpoint'));
  await until(() => api.store.get('del-me'), 'del-me listed');
  fake.answers.push({ match: /^Delete run del-me/, answer: 'Delete' });
  await exec('fisherLens.deleteRun', 'del-me');
  assert.ok(!fs.existsSync(del));
  assert.equal(fs.readFileSync(path.join(outside, 'precious.txt'), 'utf8'), 'precious');
  assert.ok(fs.existsSync(path.join(outside, 'outside-run', 'config.json')));
  // A listed run folder swapped for a symlink to outside before the delete: refused, target untouched.
  const swap = writeRun('swapped');
  await until(() => api.store.get('swapped'), 'swapped listed');
  fs.rmSync(swap, { recursive: true });
  fs.symlinkSync(path.join(outside, 'outside-run'), swap);
  fake.answers.push({ match: /^Delete run swapped/, answer: 'Delete' });
  await exec('fisherLens.deleteRun', 'swapped');
  assert.ok(fs.existsSync(path.join(outside, 'outside-run', 'config.json')));
  assert.ok(fake.messages.some((m) => /Refusing to delete/.test(m.text)));
});

test('queued placeholders name this window as owner and heartbeat; the window going leaves them queued for the next one', async () => {
  fake.reset();
  fake.settings['fisherLens.presetOverrides'] = {
    dataset: { name: 'synthetic', trainSize: 512, testSize: 64 },
    schedule: { steps: 30 },
    fisher: { probeSize: 16 },
  };
  process.env.FAKE_CLI_STEPS = '100000';
  process.env.FAKE_CLI_MS = '50';
  const first = (await exec('fisherLens.newRun', 'small-lr')) as string;
  const second = (await exec('fisherLens.newRun', 'large-lr')) as string;
  const st = () => JSON.parse(fs.readFileSync(path.join(runs, second, 'status.json'), 'utf8'));
  assert.equal(st().state, 'queued');
  assert.equal(st().pid, process.pid);
  assert.equal(st().host, os.hostname());
  assert.ok(st().heartbeatSeconds > 0);
  await until(() => api.store.get(second)?.state === 'queued', 'queued listed');
  api.launcher.dispose();
  // The queue is in the workspace state: the next window takes the placeholder over once this holder is gone
  // (test/unit/hostQueue.test.ts; without a workspace state it is marked failed there too).
  assert.equal(st().state, 'queued');
  assert.equal(st().pid, process.pid);
  fs.writeFileSync(path.join(runs, first, 'STOP'), '');
  await until(
    () =>
      JSON.parse(fs.readFileSync(path.join(runs, first, 'status.json'), 'utf8')).state ===
      'stopped',
    'first trainer stopped',
  );
});

test('a runs directory such as /proc/x gives one clear error and no endless mkdir', async () => {
  fake.reset();
  fake.settings['fisherLens.runsDirectory'] = '/proc/fisher-lens-test/runs';
  try {
    const t = Date.now();
    assert.equal(
      await exec('fisherLens.replaySyntheticRun', { steps: 10, replayMs: 0 }),
      undefined,
    );
    assert.ok(Date.now() - t < 5000);
    const errs = fake.messages.filter((m) => m.level === 'error');
    assert.equal(errs.length, 1);
    assert.match(errs[0].text, /fisherLens\.runsDirectory: .*\/proc/);
  } finally {
    delete fake.settings['fisherLens.runsDirectory'];
  }
});
