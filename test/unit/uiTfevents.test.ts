import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seriesToCsv, seriesToScalars } from '../../src/shared/exportData';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import { buildSeries } from '../../src/shared/series';
import {
  crc32c,
  decodeEventFile,
  encodeEventFile,
  eventFileName,
  frameRecord,
  maskedCrc32c,
  readRecords,
} from '../../src/shared/tfevents';

test('tfevents: CRC32C known answers', () => {
  // RFC 3720 B.4 / the usual check value.
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  const c = crc32c(new Uint8Array([1, 2, 3]));
  assert.equal(
    maskedCrc32c(new Uint8Array([1, 2, 3])),
    ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0,
  );
});

test('tfevents: a run written and decoded back (framing, CRCs, values)', () => {
  const s = buildSeries('r', fakeRunEvents({ runId: 'r', steps: 200, noise: true }));
  const points = seriesToScalars(s);
  const file = encodeEventFile(points);
  const events = decodeEventFile(file);
  assert.equal(events[0].fileVersion, 'brain.Event:2');
  const got = events
    .slice(1)
    .flatMap((e) => e.scalars.map((sc) => ({ ...sc, step: e.step, wallTime: e.wallTime })));
  assert.equal(got.length, points.length);
  const key = (p: { tag: string; step: number }) => `${p.tag}@${p.step}`;
  const byKey = new Map(got.map((p) => [key(p), p]));
  for (const p of points) {
    const q = byKey.get(key(p));
    assert.ok(q, key(p));
    assert.equal(q.value, Math.fround(p.value), 'float32 value');
    assert.equal(q.wallTime, p.wallTime, 'double wall time');
  }
  const trF = got.filter((p) => p.tag === 'fisher/trF');
  assert.equal(trF.length, s.fisher.trF.length);
  // Corrupting one byte breaks a CRC.
  const bad = file.slice();
  bad[bad.length - 6] ^= 0xff;
  assert.throws(() => readRecords(bad), /CRC/);
  assert.throws(() => readRecords(file.slice(0, file.length - 2)), /truncated/);
  assert.match(
    eventFileName(1700000000.7, 'my host'),
    /^events\.out\.tfevents\.1700000000\.my_host$/,
  );
});

test('tfevents: record layout', () => {
  const rec = frameRecord(new Uint8Array([9, 8, 7]));
  assert.equal(rec.length, 8 + 4 + 3 + 4);
  const dv = new DataView(rec.buffer);
  assert.equal(dv.getBigUint64(0, true), 3n);
  assert.equal(dv.getUint32(8, true), maskedCrc32c(rec.subarray(0, 8)));
  assert.deepEqual([...readRecords(rec)[0]], [9, 8, 7]);
});

test('export: CSV has one row per step and every column', () => {
  const s = buildSeries('r', fakeRunEvents({ runId: 'r', steps: 100 }));
  const csv = seriesToCsv(s).trim().split('\n');
  const head = csv[0].split(',');
  assert.deepEqual(head.slice(0, 3), ['step', 'epoch', 'time_s']);
  assert.ok(head.includes('trF') && head.includes('test_acc') && head.includes('noisy_acc'));
  const steps = new Set([...s.steps.step, ...s.fisher.step, ...s.evals.step]);
  assert.equal(csv.length - 1, steps.size);
  for (const line of csv) assert.equal(line.split(',').length, head.length);
  const row10 = csv.find((l) => l.startsWith('10,'))!.split(',');
  assert.equal(Number(row10[head.indexOf('trF')]), s.fisher.trF[s.fisher.step.indexOf(10)]);
});
