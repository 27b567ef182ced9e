/**
 * Run-config problems in the Problems panel (through the real extension against the fake `vscode`): an open
 * `*.fisher.json` gets the rules between fields that the editor's JSON schema cannot check, at their field, as it
 * is edited; Run Config File puts every problem of a config it refuses on the file.
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
const { problemRange } =
  require('../../src/host/configDiagnostics') as typeof import('../../src/host/configDiagnostics');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-diag-'));
const ws = path.join(tmp, 'ws');
let ctx: { subscriptions: { dispose(): unknown }[] };
const diags = (f: string) =>
  fake.diagnostics.get(f)?.map((d) => ({
    line: d.range.start.line,
    col: d.range.start.character,
    message: d.message,
  }));

before(async () => {
  fs.mkdirSync(ws, { recursive: true });
  fake.workspaceFolder = ws;
  ctx = { subscriptions: [] };
  const api = activate({
    subscriptions: ctx.subscriptions,
    extensionUri: Uri.file(tmp),
    extensionPath: tmp,
    globalStorageUri: Uri.file(path.join(tmp, 'global')),
  } as never);
  await api.store.ready;
});

after(async () => {
  for (const d of ctx.subscriptions.splice(0).reverse()) d.dispose();
  await sleep(300);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('an open config with both steps and epochs, or a probe larger than its data, is flagged at the field', async () => {
  const file = path.join(ws, 'exp.fisher.json');
  const text = `{\n  "dataset": { "name": "synthetic", "trainSize": 1000 },\n  "fisher": { "probeSize": 2000 },\n  "schedule": {\n    "steps": 50,\n    "epochs": 2\n  }\n}\n`;
  fake.openDocument(file, text);
  const d = await until(() => diags(file)?.length === 2 && diags(file), 'two problems');
  const probe = d.find((x) => x.message.startsWith('fisher.probeSize:'))!;
  assert.deepEqual([probe.line, probe.col], [2, 14]);
  assert.match(probe.message, /must not exceed dataset\.trainSize \(1000\)/);
  const both = d.find((x) => x.message.startsWith('schedule:'))!;
  assert.match(
    both.message,
    /got both schedule\.epochs \(2\) and schedule\.steps \(50\); give one of them/,
  );
  assert.equal(both.line, 3);
  // A field problem alone is the JSON schema's (VS Code shows it): not repeated here.
  fake.openDocument(file, '{ "optimizer": { "lr": -1 } }');
  await until(() => !fake.diagnostics.has(file), 'cleared');
  // Fixed: nothing.
  fake.openDocument(
    file,
    '{ "dataset": { "name": "synthetic", "trainSize": 1000 }, "schedule": { "steps": 5 } }',
  );
  await sleep(400);
  assert.equal(fake.diagnostics.has(file), false);
});

test('Run Config File: a refused config shows every problem in the Problems panel, not only a notification', async () => {
  const file = path.join(ws, 'bad.fisher.json');
  fs.writeFileSync(file, '{\n  "optimizer": { "lr": -1 },\n  "schedule": { "steps": 0 }\n}\n');
  fake.reset();
  await fake.commands.get('fisherLens.runConfigFile')!(Uri.file(file));
  assert.match(fake.messages.at(-1)!.text, /^Invalid run config: /);
  const d = diags(file)!;
  assert.deepEqual(
    d.map((x) => [x.line, x.message.split(':')[0]]),
    [
      [1, 'optimizer.lr'],
      [2, 'schedule.steps'],
    ],
  );
});

test('problemRange: the dotted path is followed key after key; an unknown one falls back to the first line', () => {
  const t = '{"a": {"x": 1}, "b": {"x": 2}}';
  assert.deepEqual(problemRange(t, 'b.x: got 2'), [22, 25]);
  assert.deepEqual(problemRange(t, 'not valid JSON: …'), [0, 0]);
});
