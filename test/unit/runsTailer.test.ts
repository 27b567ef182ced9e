import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EventsFileReader, RunTailer, RunsWatcher } from '../../src/runs/tailer';
import { RunRecorder } from '../../src/runs/recorder';
import type { RunEvent, RunStatus, RunSummary } from '../../src/shared/protocol';
import type { RunFolderInfo } from '../../src/runs/reader';
import { tmpDir, testConfig, testHeader, waitFor } from './runsHelpers';

const fisher = (step: number) =>
  JSON.stringify({
    type: 'fisher',
    t: step,
    step,
    epoch: 0,
    trF: step,
    trFStderr: 0,
    probeSize: 2,
    trFB: null,
    ms: 1,
  });

test('EventsFileReader: only complete lines, partial tail kept, corrupt lines numbered, truncation resets', () => {
  const dir = tmpDir('fl-tail-');
  const file = path.join(dir, 'events.jsonl');
  const r = new EventsFileReader(file);
  assert.deepEqual(
    r.read(),
    { events: [], corruptLines: [], reset: false },
    'missing file reads as empty',
  );
  fs.writeFileSync(file, fisher(1) + '\n' + fisher(2).slice(0, 10));
  assert.deepEqual(
    r.read().events.map((e) => (e as { step: number }).step),
    [1],
  );
  assert.deepEqual(r.read().events, [], 'partial line not delivered');
  // Multi-byte UTF-8 split across reads.
  fs.appendFileSync(
    file,
    fisher(2).slice(10) + '\n{"type":"log","t":1,"level":"info","message":"λ',
  );
  assert.deepEqual(
    r.read().events.map((e) => e.type),
    ['fisher'],
  );
  fs.appendFileSync(file, 'μ"}\nnot json\n' + fisher(3) + '\n');
  const got = r.read();
  assert.deepEqual(
    got.events.map((e) => e.type),
    ['log', 'fisher'],
  );
  assert.equal((got.events[0] as { message: string }).message, 'λμ');
  assert.deepEqual(got.corruptLines, [4], 'line numbers continue across reads');
  assert.equal(r.offset, fs.statSync(file).size);
  fs.writeFileSync(file, fisher(9) + '\n');
  const again = r.read();
  assert.equal(again.reset, true);
  assert.deepEqual(
    again.events.map((e) => (e as { step: number }).step),
    [9],
  );
});

test('RunTailer delivers appended events, status and summary incrementally; dispose stops it', async (tc) => {
  const root = tmpDir('fl-tail-');
  const w = RunRecorder.create(root, 'live', testConfig(), testHeader(), {
    flushIntervalMs: 0,
    stepIntervalMs: 0,
    detectorEvents: false, // the events appended here, and only those
  });
  const events: RunEvent[] = [];
  const statuses: RunStatus[] = [];
  const summaries: RunSummary[] = [];
  let batches = 0;
  // Safety poll off: the file-system watcher alone must deliver.
  const t = new RunTailer(
    w.dir,
    {
      onEvents: (e) => {
        batches++;
        events.push(...e);
      },
      onStatus: (s) => statuses.push(s),
      onSummary: (s) => summaries.push(s),
      onError: (e) => assert.fail(e),
    },
    { pollMs: 0 },
  );
  tc.after(() => {
    t.dispose();
    w.close();
  });
  await t.ready;
  assert.deepEqual(
    events.map((e) => e.type),
    ['header', 'status'],
  );
  assert.equal(statuses.at(-1)!.state, 'running');
  for (let s = 1; s <= 3; s++)
    w.append({
      type: 'fisher',
      step: s,
      epoch: 0,
      trF: s,
      trFStderr: 0,
      probeSize: 16,
      trFB: null,
      ms: 1,
    });
  await waitFor(() => events.length === 5, 3000, 'three fisher events');
  const b = batches;
  w.append({ type: 'log', level: 'warn', message: 'later' }); // right after a read: chokidar's 50 ms throttle
  await waitFor(() => events.length === 6, 3000, 'the log event');
  assert.ok(batches > b, 'delivered in a later batch');
  w.finish('completed');
  await waitFor(
    () => summaries.length === 1 && statuses.at(-1)!.state === 'completed',
    3000,
    'final status and summary',
  );
  assert.equal(events.at(-1)!.type, 'status');
  assert.equal(summaries[0].state, 'completed');
  t.dispose();
  const n = events.length;
  fs.appendFileSync(path.join(w.dir, 'events.jsonl'), fisher(99) + '\n');
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(events.length, n, 'no callbacks after dispose');
});

test('RunsWatcher sees runs appear, change state and disappear (watcher only, then poll only)', async (tc) => {
  const root = tmpDir('fl-watch-');
  const added: RunFolderInfo[] = [];
  const changed: RunFolderInfo[] = [];
  const removed: string[] = [];
  const listener = {
    onAdded: (r: RunFolderInfo) => added.push(r),
    onChanged: (r: RunFolderInfo) => changed.push(r),
    onRemoved: (id: string) => removed.push(id),
    onError: (e: Error) => assert.fail(e),
  };
  const existing = RunRecorder.create(root, 'existing', testConfig(), testHeader(), {
    timer: false,
  });
  existing.finish('completed');
  const rw = new RunsWatcher(root, listener, { pollMs: 0, debounceMs: 30 });
  tc.after(() => rw.dispose());
  await rw.ready;
  assert.deepEqual(
    added.map((r) => r.id),
    ['existing'],
  );

  const w = RunRecorder.create(root, 'from-cli', testConfig(), testHeader(), { timer: false });
  await waitFor(() => added.some((r) => r.id === 'from-cli'), 3000, 'the new run');
  assert.equal(added.at(-1)!.state, 'running');
  w.finish('completed');
  await waitFor(
    () => changed.some((r) => r.id === 'from-cli' && r.state === 'completed'),
    3000,
    'the completed state',
  );
  fs.rmSync(w.dir, { recursive: true });
  await waitFor(() => removed.includes('from-cli'), 3000, 'the removal');
  assert.deepEqual(
    rw.list().map((r) => r.id),
    ['existing'],
  );
  rw.dispose();

  // A runs root that does not exist yet, followed by the safety poll only.
  const later = path.join(tmpDir('fl-watch-'), 'not-yet', 'runs');
  const seen: string[] = [];
  const rw2 = new RunsWatcher(later, { onAdded: (r) => seen.push(r.id) }, { pollMs: 100 });
  tc.after(() => rw2.dispose());
  await rw2.ready;
  assert.equal(seen.length, 0);
  RunRecorder.create(later, 'first', testConfig(), testHeader(), { timer: false }).finish(
    'completed',
  );
  await waitFor(() => seen.includes('first'), 3000, 'a run in a root created later');
  rw2.dispose();
});

test('RunsWatcher reports a running run whose process died', async (tc) => {
  const root = tmpDir('fl-watch-');
  let alive = true;
  const changed: RunFolderInfo[] = [];
  const w = RunRecorder.create(root, 'dies', testConfig(), testHeader(), { timer: false });
  w.close();
  const rw = new RunsWatcher(
    root,
    { onChanged: (r) => changed.push(r) },
    { pollMs: 50, isAlive: () => alive },
  );
  tc.after(() => rw.dispose());
  await rw.ready;
  assert.equal(rw.list()[0].state, 'running');
  alive = false;
  await waitFor(() => changed.length > 0, 3000, 'the failed state');
  assert.equal(changed[0].state, 'failed');
  assert.match(changed[0].stale!, /exited without finishing/);
  rw.dispose();
});
