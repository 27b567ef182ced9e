/**
 * The run format catalogue (src/shared/protocol.ts): the published schema is current, every run folder
 * committed under docs/reproduction validates — with our validators and, independently, with Ajv over the
 * published JSON schema — and damaged files are named field by field and salvaged where possible.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import {
  EVENT_TYPES,
  isRunEvent,
  runEventErrors,
  runEventsJsonSchema,
  runStatusErrors,
  runSummaryErrors,
  salvageRunStatus,
  salvageRunSummary,
} from '../../src/shared/protocol';
import { readRun, runInfo } from '../../src/runs/reader';
import { isRunEventLine } from '../../src/runs/events';

const root = path.join(__dirname, '..', '..');
const published: { oneOf: { $ref: string }[] } & Record<string, unknown> = JSON.parse(
  fs.readFileSync(path.join(root, 'schemas', 'run-events.schema.json'), 'utf8'),
);

function runFolders(dir: string): string[] {
  const out: string[] = [];
  for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!d.isDirectory()) continue;
    const p = path.join(dir, d.name);
    if (fs.existsSync(path.join(p, 'events.jsonl'))) out.push(p);
    else out.push(...runFolders(p));
  }
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: false });
ajv.addSchema(published, 'run');
const ajvEvent = ajv.getSchema('run')!;
const ajvStatus = ajv.compile({ $ref: 'run#/definitions/status' });
const ajvSummary = ajv.compile({ $ref: 'run#/definitions/summary' });

test('run format: committed schemas/run-events.schema.json is current', () => {
  assert.deepEqual({ ...published }, runEventsJsonSchema(), 'run `npm run build` to regenerate it');
  assert.deepEqual(
    new Set(published.oneOf.map((r) => r.$ref.split('/').pop())),
    new Set(EVENT_TYPES.map((t) => `${t}Event`)),
  );
});

test('run format: every committed run folder validates (ours and Ajv over the published schema)', () => {
  const folders = runFolders(path.join(root, 'docs', 'reproduction'));
  assert.ok(
    folders.length >= 10,
    `expected the committed reproduction runs, found ${folders.length}`,
  );
  let events = 0;
  const types = new Set<string>();
  for (const dir of folders) {
    const lines = fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l.trim());
    lines.forEach((line, i) => {
      const e = JSON.parse(line);
      const where = `${path.relative(root, dir)}/events.jsonl:${i + 1}`;
      assert.equal(runEventErrors(e), null, where);
      assert.ok(isRunEvent(e), where);
      assert.ok(isRunEventLine(e), `${where}: the reader's compiled check agrees`);
      assert.ok(ajvEvent(e), `${where}: ${ajv.errorsText(ajvEvent.errors)}`);
      if (i === 0) assert.equal(e.type, 'header', `${where}: first line`);
      types.add(e.type);
      events++;
    });
    const status = JSON.parse(fs.readFileSync(path.join(dir, 'status.json'), 'utf8'));
    assert.equal(runStatusErrors(status), null, dir);
    assert.ok(ajvStatus(status), `${dir}/status.json: ${ajv.errorsText(ajvStatus.errors)}`);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    assert.equal(runSummaryErrors(summary), null, dir);
    const migrated = salvageRunSummary(summary);
    assert.deepEqual(migrated.problems, [], dir);
    assert.ok(
      ajvSummary(migrated.value),
      `${dir}/summary.json: ${ajv.errorsText(ajvSummary.errors)}`,
    );
  }
  assert.ok(events > 1000);
  for (const t of ['header', 'step', 'fisher', 'eval', 'detector', 'status'])
    assert.ok(types.has(t), t);
});

const fisher = {
  type: 'fisher',
  t: 1,
  step: 10,
  epoch: 0.5,
  trF: 12.5,
  trFStderr: 0.3,
  probeSize: 128,
  trFB: 1.2,
  ms: 4,
};

test('run format: invalid events are refused by both validators, naming the field', () => {
  assert.equal(runEventErrors(fisher), null);
  const cases: [unknown, RegExp][] = [
    [{ ...fisher, trF: '12' }, /trF/],
    [{ ...fisher, trF: null }, /trF/],
    [{ ...fisher, step: -1 }, /step/],
    [{ ...fisher, step: 1.5 }, /step/],
    [{ ...fisher, probeSize: undefined }, /probeSize/],
    [{ ...fisher, type: 'fishy' }, /unknown event type "fishy"/],
    [{ type: 'status', t: 1, step: 3, state: 'exploded' }, /state/],
    [{ type: 'log', t: 1, level: 'info', message: 'x'.repeat(2_000_000) }, /message/],
    [[fisher], /event object/],
    [null, /event object/],
  ];
  for (const [e, re] of cases) {
    const err = runEventErrors(e);
    assert.ok(err && re.test(err), `${JSON.stringify(e)?.slice(0, 80)} → ${err}`);
    assert.equal(isRunEvent(e), false);
    assert.equal(isRunEventLine(e), false, `compiled check: ${JSON.stringify(e)?.slice(0, 80)}`);
    assert.equal(ajvEvent(e), false, JSON.stringify(e)?.slice(0, 80));
  }
  // Error messages show at most a short excerpt of a huge value.
  assert.ok(
    runEventErrors({ type: 'step', t: 1, step: 1, epoch: 1, loss: 'y'.repeat(100_000) })!.length <
      500,
  );
  // Unknown fields are allowed (an open format).
  assert.equal(runEventErrors({ ...fisher, engine: 'torch' }), null);
});

const summary = {
  runId: 'r',
  state: 'completed',
  steps: 100,
  epochs: 1,
  wallSeconds: 3,
  backend: 'wasm',
  peakTrF: 10,
  peakTrFRaw: 11,
  peakStep: 20,
  peakConfirmed: true,
  maxTrF: 12,
  maxTrFStep: 25,
  trFi: 5,
  trFiStep: 50,
  lossThreshold: 0.2,
  finalTrF: 3,
  finalTrainLoss: 0.1,
  finalTestLoss: 0.2,
  finalTestAcc: 0.9,
  bestTestAcc: 0.91,
  finalTrainAcc: 0.95,
  finalCleanAcc: null,
  finalNoisyAcc: null,
  error: null,
};

test('run format: a damaged summary keeps its valid fields and names the others', () => {
  assert.deepEqual(salvageRunSummary(summary), { value: summary, problems: [] });
  const bad = salvageRunSummary({
    ...summary,
    peakTrF: 'big',
    bestTestAcc: Infinity,
    peakStep: -3,
  });
  assert.equal(bad.value!.peakTrF, null);
  assert.equal(bad.value!.peakStep, null);
  assert.equal(bad.value!.finalTestAcc, 0.9);
  assert.ok(
    bad.problems.some((p) => p.startsWith('peakTrF:') && p.includes('"big"')),
    bad.problems.join(' | '),
  );
  assert.ok(
    bad.problems.some((p) => p.startsWith('peakStep:')),
    bad.problems.join(' | '),
  );
  const { peakTrF: _drop, ...noPeak } = summary;
  const missing = salvageRunSummary(noPeak);
  assert.equal(missing.value!.peakTrF, null);
  assert.ok(missing.problems.some((p) => p.startsWith('peakTrF:')));
  // Without a state nothing can be shown as the run's outcome.
  const empty = salvageRunSummary({});
  assert.equal(empty.value, null);
  assert.ok(
    empty.problems.some((p) => p.startsWith('state:') || p.startsWith('runId:')),
    empty.problems.join(' | '),
  );
  assert.equal(salvageRunSummary([1, 2]).value, null);
  assert.match(runSummaryErrors({ ...summary, state: 'exploded' })!, /^state:/);
});

test('run format: a status with an unknown state is refused, a missing heartbeat field is fine', () => {
  const status = {
    runId: 'r',
    state: 'running',
    step: 3,
    totalSteps: 10,
    pid: 5,
    host: 'h',
    startedAt: 'a',
    updatedAt: 'b',
  };
  assert.equal(runStatusErrors(status), null);
  assert.equal(runStatusErrors({ ...status, heartbeatSeconds: 10 }), null);
  assert.match(runStatusErrors({ ...status, heartbeatSeconds: 0 })!, /heartbeatSeconds/);
  const s = salvageRunStatus({ ...status, state: 'weird' });
  assert.equal(s.value, null);
  assert.match(s.problems.join(' '), /state/);
  const noStep = salvageRunStatus({ ...status, step: 'x' });
  assert.equal(noStep.value!.step, 0);
  assert.match(noStep.problems[0], /^step:/);
});

test('run format: runs written by the first release read back whole (reader, listing), no problems', () => {
  const folders = runFolders(path.join(root, 'docs', 'reproduction'));
  for (const dir of folders) {
    const run = readRun(dir);
    assert.deepEqual(run.problems, [], dir);
    assert.equal(run.state, 'completed', dir);
    assert.ok(run.header && run.byType.fisher.length > 0 && run.byType.eval.length > 0, dir);
    assert.equal(run.corruptLines.length, 0, dir);
    const raw = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
    // A summary written before peakConfirmed existed is migrated: its early peak reads as unconfirmed.
    assert.equal(run.summary!.peakConfirmed, raw.peakConfirmed ?? false, dir);
    const info = runInfo(dir);
    assert.deepEqual(info.problems, [], dir);
    assert.ok(info.config && info.summary, dir);
  }
});
