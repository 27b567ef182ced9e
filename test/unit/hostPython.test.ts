/**
 * The PyTorch engine from the editor's side (fake vscode): which Python the trainer gets (`fisherLens.pythonPath`
 * → the Python extension's selected interpreter through its API → `python3`), that `--python` and a `torch*`
 * backend reach the trainer's arguments, that an untrusted workspace launches nothing (and does not even ask
 * the Python extension), and that engine, device and versions from a crafted run header are shown escaped in
 * the Runs tree, the status bar and the compare table.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  fake,
  fakePythonExtension,
  installFakeVscode,
  Uri,
  fakeMemento,
} from './helpers/fakeVscode';
import { sleep, until } from './helpers/wait';

installFakeVscode();

const { activate } = require('../../src/extension') as typeof import('../../src/extension');
const py = require('../../src/host/python') as typeof import('../../src/host/python');
const { executablePath } =
  require('../../src/host/settings') as typeof import('../../src/host/settings');
const { readRunHeader } =
  require('../../src/host/runHeader') as typeof import('../../src/host/runHeader');
const { fakeConfig, fakeRunEvents, fakeSummary } =
  require('../../src/runs/fakeRun') as typeof import('../../src/runs/fakeRun');
const { summaryRow, summaryTable } =
  require('../../src/shared/compare') as typeof import('../../src/shared/compare');
const { buildSeries } =
  require('../../src/shared/series') as typeof import('../../src/shared/series');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-hostpy-'));
const ws = path.join(tmp, 'ws');
const runs = path.join(ws, '.fisherlens', 'runs');
const extDir = path.join(tmp, 'ext');
const cliLog = path.join(tmp, 'cli.jsonl');
let ctx: { subscriptions: { dispose(): unknown }[] };
let api: ReturnType<typeof activate>;

/** A `[text](target)` link as VS Code renders it in markdown (command:, http(s):, file:). */
const LINK = /\[[^\]]*\]\((?:command:|https?:|file:)/i;
const BIDI = /[\u202a-\u202e\u2066-\u2069\u200b-\u200f]/;
const exec = (id: string, ...args: unknown[]) =>
  fake.commands.get(id)!(...args) as Promise<unknown>;
const cliCalls = (): { args: string[] }[] =>
  fs.existsSync(cliLog)
    ? fs
        .readFileSync(cliLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
const argOf = (args: string[], flag: string) =>
  args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined;
const tree = () => fake.treeViews.find((v) => v.id === 'fisherLens.runs')!;
type Item = { label: string; description: string; tooltip: { value: string } };
const item = (id: string) =>
  (tree().provider.getChildren() as { runId: string }[])
    .map((r) => tree().provider.getTreeItem(r) as Item)
    .find((i) => i.label === id);

/** A completed fake run whose header names `engine` (or none: a run written before the field existed). */
function writeRun(id: string, engine: Record<string, unknown> | undefined, backend = 'fake') {
  const dir = path.join(runs, id);
  fs.mkdirSync(dir, { recursive: true });
  const fo = { runId: id, steps: 60, t0: Date.now() - 60_000 };
  const events = fakeRunEvents(fo) as unknown as Record<string, unknown>[];
  events[0] = { ...events[0], backend, ...(engine ? { engine } : {}) };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(fakeConfig(fo)));
  fs.writeFileSync(
    path.join(dir, 'events.jsonl'),
    events.map((e) => JSON.stringify(e)).join('\n') + '\n',
  );
  const now = new Date().toISOString();
  fs.writeFileSync(
    path.join(dir, 'status.json'),
    JSON.stringify({
      runId: id,
      state: 'completed',
      step: 60,
      totalSteps: 60,
      pid: null,
      host: os.hostname(),
      jobId: null,
      startedAt: now,
      updatedAt: now,
      error: null,
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'summary.json'),
    JSON.stringify({ ...fakeSummary(fo, events as never), backend }),
  );
  return { dir, events };
}

const EVIL_ENGINE = {
  name: 'torch',
  device: '$(zap) cuda:0\u202e',
  deviceName: '[x](command:workbench.action.terminal.new) <img src=x onerror=alert(1)>',
  versions: { torch: '2.5.1', cuda: '[y](https://evil.example)' },
};

before(async () => {
  fs.mkdirSync(path.join(extDir, 'dist'), { recursive: true });
  fs.copyFileSync(
    path.join(__dirname, 'helpers', 'fakeCli.js'),
    path.join(extDir, 'dist', 'cli.js'),
  );
  fs.mkdirSync(runs, { recursive: true });
  writeRun('gpu-run', {
    name: 'torch',
    device: 'cuda:0',
    deviceName: 'NVIDIA H200',
    versions: { torch: '2.5.1', cuda: '12.4', python: '3.11.9' },
  });
  writeRun('old-tfjs', undefined, 'wasm');
  writeRun('evil-engine', EVIL_ENGINE);
  fake.workspaceFolder = ws;
  fake.settings = {
    'fisherLens.nodePath': process.execPath,
    'fisherLens.presetOverrides': {
      dataset: { name: 'synthetic', trainSize: 512, testSize: 64 },
      schedule: { steps: 30 },
      fisher: { probeSize: 16 },
    },
  };
  process.env.FAKE_CLI_LOG = cliLog;
  process.env.FAKE_CLI_STEPS = '20';
  process.env.FAKE_CLI_MS = '5';
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
  fake.extensions.clear();
  await new Promise((r) => setTimeout(r, 500));
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ----------------------------------------------------------------------------------- which Python

test('python: the setting wins; the Python extension is not even asked', async () => {
  const ext = fakePythonExtension('/opt/conda/bin/python');
  fake.extensions.set('ms-python.python', ext);
  try {
    assert.deepEqual(await py.resolvePython('/my/venv/bin/python'), {
      exe: '/my/venv/bin/python',
      source: 'setting',
    });
    assert.equal(ext.calls.activate, 0);
    assert.equal(ext.calls.getActiveEnvironmentPath, 0);
  } finally {
    fake.extensions.clear();
  }
});

test('python: no setting → the interpreter selected in the Python extension, through its API', async () => {
  const ext = fakePythonExtension('/opt/conda/envs/fl/bin/python');
  fake.extensions.set('ms-python.python', ext);
  try {
    const got = await py.resolvePython('', Uri.file(ws) as never);
    assert.deepEqual(got, { exe: '/opt/conda/envs/fl/bin/python', source: 'python-extension' });
    assert.equal(ext.calls.activate, 1, 'an inactive Python extension is activated first');
    assert.equal(ext.calls.resolveEnvironment, 1);
    // Already active: not activated again.
    await py.resolvePython('');
    assert.equal(ext.calls.activate, 1);
  } finally {
    fake.extensions.clear();
  }
});

test('python: neither → python3 on the PATH (also when the extension has no executable or hangs)', async () => {
  const dflt = process.platform === 'win32' ? 'python' : 'python3';
  assert.deepEqual(await py.resolvePython(''), { exe: dflt, source: 'path' });
  fake.extensions.set('ms-python.python', fakePythonExtension(undefined));
  try {
    assert.deepEqual(await py.resolvePython(''), { exe: dflt, source: 'path' });
    fake.extensions.set('ms-python.python', fakePythonExtension('/x/python', { activateMs: 5000 }));
    const t0 = Date.now();
    assert.deepEqual(await py.resolvePython('', undefined, 100), { exe: dflt, source: 'path' });
    assert.ok(Date.now() - t0 < 2000, 'a Python extension that does not answer is not waited for');
  } finally {
    fake.extensions.clear();
  }
});

test('python: the setting is expanded like a path; a bare command name is left for the PATH', () => {
  assert.equal(executablePath(''), '');
  assert.equal(executablePath('  python3.11 '), 'python3.11');
  assert.equal(executablePath('~/venv/bin/python'), path.join(os.homedir(), 'venv/bin/python'));
  assert.equal(
    executablePath('${workspaceFolder}/.venv/bin/python'),
    path.join(ws, '.venv/bin/python'),
  );
  assert.equal(executablePath('.venv/bin/python'), path.join(ws, '.venv/bin/python'));
  assert.equal(executablePath('/usr/bin/python3'), '/usr/bin/python3');
});

// ------------------------------------------------------------------------------ what the trainer gets

async function launchAndGetArgs(): Promise<string[]> {
  const before = cliCalls().length;
  const id = (await exec('fisherLens.newRun', 'small-lr')) as string;
  assert.ok(id, 'a run was launched');
  await until(() => cliCalls().length > before, 'trainer started');
  const args = cliCalls()[before].args;
  assert.equal(argOf(args, '--run-id'), id);
  await until(() => api.launcher.get(id)?.state === 'exited', 'trainer exited');
  return args;
}

test('launch: --python from the setting or the Python extension, --backend torch-cpu from the setting', async () => {
  fake.reset();
  // python3 on the PATH is the trainer's own default (after $FISHER_LENS_PYTHON): not passed.
  let args = await launchAndGetArgs();
  assert.ok(!args.includes('--python'), 'no --python: the trainer picks python3 on the PATH');
  assert.ok(!args.includes('--backend'), 'backend auto: the config decides');

  fake.extensions.set('ms-python.python', fakePythonExtension('/opt/conda/envs/fl/bin/python'));
  fake.settings['fisherLens.backend'] = 'torch-cpu';
  try {
    args = await launchAndGetArgs();
    assert.equal(argOf(args, '--python'), '/opt/conda/envs/fl/bin/python');
    assert.equal(argOf(args, '--backend'), 'torch-cpu');

    fake.settings['fisherLens.pythonPath'] = '${workspaceFolder}/.venv/bin/python';
    args = await launchAndGetArgs();
    assert.equal(argOf(args, '--python'), path.join(ws, '.venv/bin/python'));
    assert.ok(fake.log.some((l) => /Python .*\.venv\/bin\/python \(setting\)/.test(l)));

    fake.settings['fisherLens.backend'] = 'not-a-backend';
    args = await launchAndGetArgs();
    assert.ok(!args.includes('--backend'), 'an unknown backend setting reads as auto');
  } finally {
    fake.extensions.clear();
    delete fake.settings['fisherLens.backend'];
    delete fake.settings['fisherLens.pythonPath'];
  }
});

test('untrusted workspace: nothing launched, no folder written, the Python extension not asked', async () => {
  fake.reset();
  const ext = fakePythonExtension('/opt/conda/bin/python');
  fake.extensions.set('ms-python.python', ext);
  fake.settings['fisherLens.backend'] = 'torch-cpu';
  fake.trusted = false;
  const calls = cliCalls().length;
  const folders = fs.readdirSync(runs).length;
  try {
    assert.equal(await exec('fisherLens.newRun', 'small-lr'), undefined);
    const cfg = path.join(ws, 'x.fisher.json');
    fs.writeFileSync(cfg, '{}');
    assert.equal(await exec('fisherLens.runConfigFile', Uri.file(cfg)), undefined);
    await exec('fisherLens.rerunWithFisherPenalty', 'gpu-run');
    // The launcher itself refuses too (the last line behind the commands' check).
    assert.throws(
      () =>
        api.launcher.launch({
          runId: 'direct',
          source: { kind: 'config', config: fakeConfig({ runId: 'direct' }) },
          totalSteps: 10,
          python: '/usr/bin/python3',
        }),
      /not trusted/,
    );
    await sleep(300);
    assert.equal(cliCalls().length, calls, 'no trainer process');
    assert.equal(fs.readdirSync(runs).length, folders, 'no run folder');
    assert.equal(ext.calls.activate, 0, 'the Python extension was not activated');
    assert.equal(ext.calls.getActiveEnvironmentPath, 0);
    assert.ok(fake.messages.some((m) => /untrusted workspace/.test(m.text)));
  } finally {
    fake.trusted = true;
    fake.extensions.clear();
    delete fake.settings['fisherLens.backend'];
  }
});

// --------------------------------------------------------------------- engine, device and versions

test('engine shown: Runs tree tooltip, status bar tooltip; runs without it named by their backend', async () => {
  await until(() => item('gpu-run') && item('old-tfjs'), 'runs listed');
  // The tooltip escapes every ASCII punctuation character; read it unescaped.
  const unescaped = (md: string) => md.replace(/\\(.)/g, '$1');
  const gpu = unescaped(item('gpu-run')!.tooltip.value);
  assert.match(gpu, /\| Engine \| torch 2\.5\.1 · cuda:0 \(NVIDIA H200\) \|/);
  assert.match(gpu, /\| Versions \| torch 2\.5\.1, cuda 12\.4, python 3\.11\.9 \|/);
  assert.match(unescaped(item('old-tfjs')!.tooltip.value), /\| Engine \| tfjs · wasm \|/);
  assert.equal(readRunHeader(path.join(runs, 'gpu-run'))?.engine?.deviceName, 'NVIDIA H200');

  api.store.refresh();
  await exec('fisherLens.openMonitor', 'gpu-run');
  const bar = await until(
    () => fake.statusItems.find((s) => s.visible && /gpu-run/.test(String(s.tooltip))),
    'status bar on gpu-run',
  );
  assert.match(String(bar.tooltip), /\ntorch 2\.5\.1 · cuda:0 \(NVIDIA H200\)\n/);
});

test('engine text from a crafted header is escaped: no link, icon, HTML or bidi control anywhere', async () => {
  const it = await until(() => item('evil-engine'), 'crafted run listed');
  const md = it.tooltip.value;
  assert.ok(!LINK.test(md), `no link in the tooltip: ${md}`);
  assert.ok(!/(^|[^\\])<img/i.test(md), 'no raw HTML in the tooltip');
  assert.ok(!/(^|[^\\])\$\(zap\)/.test(md), 'no theme icon in the tooltip');
  assert.ok(!BIDI.test(md), 'no bidi control in the tooltip');
  assert.match(md, /\| Engine \| torch 2\\\.5\\\.1 · \\\$\\\(zap\\\) cuda\\:0/);
  assert.ok(!LINK.test(it.description) && !BIDI.test(it.description));

  await exec('fisherLens.openMonitor', 'evil-engine');
  const bar = await until(
    () => fake.statusItems.find((s) => s.visible && /evil-engine/.test(String(s.tooltip))),
    'status bar on evil-engine',
  );
  assert.ok(!BIDI.test(String(bar.tooltip)), 'no bidi control in the status bar tooltip');
  assert.ok(
    !/\$\(pulse\).*\$\(zap\)/.test(bar.text),
    'no icon from the run in the status bar text',
  );

  // The compare table (the webview puts cells in with textContent): one plain, capped line.
  const { events } = writeRun('evil-cmp', {
    ...EVIL_ENGINE,
    deviceName: `A\u0000B\u202eC\n${'x'.repeat(500)}`,
  });
  const row = summaryRow(buildSeries('evil-cmp', events as never), null, 'completed');
  const t = summaryTable([row]);
  const cell = t.rows[0][t.head.indexOf('Engine')];
  assert.ok(cell.startsWith('torch 2.5.1 · $(zap) cuda:0 (ABC x'), cell);
  // eslint-disable-next-line no-control-regex
  assert.ok(!/[\u0000-\u001f\u202a-\u202e]/.test(cell), 'no control characters');
  assert.ok(cell.length < 200, `capped (${cell.length})`);
});

// ------------------------------------------------------------------------------------ package.json

test('package.json: the backend setting offers every backend; pythonPath is machine-overridable and restricted', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'));
  const props = pkg.contributes.configuration.properties;
  const { SETTING_BACKENDS } =
    require('../../src/host/settings') as typeof import('../../src/host/settings');
  const { BACKENDS } =
    require('../../src/shared/config') as typeof import('../../src/shared/config');
  const sorted = (a: readonly string[]) => [...a].sort();
  assert.deepEqual(sorted(props['fisherLens.backend'].enum), sorted(SETTING_BACKENDS));
  assert.deepEqual(sorted(SETTING_BACKENDS), sorted(BACKENDS), 'the setting and the CLI agree');
  assert.equal(
    props['fisherLens.backend'].enumDescriptions.length,
    props['fisherLens.backend'].enum.length,
  );
  assert.equal(props['fisherLens.pythonPath'].scope, 'machine-overridable');
  assert.ok(
    pkg.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('fisherLens.pythonPath'),
  );
  assert.match(pkg.dependencies['@vscode/python-extension'], /^\d+\.\d+\.\d+$/, 'pinned exactly');
});
