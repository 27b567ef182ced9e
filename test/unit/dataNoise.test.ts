import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyLabelNoise, trackedSubsets, BatchIterator } from '../../src/trainer/data';
import { Rng, deriveSeed } from '../../src/shared/rng';

const labels = (n: number, k = 10) => Int32Array.from({ length: n }, (_, i) => (i * 7) % k);

test('label noise: exact count, mask = changed labels, deterministic per seed, input untouched', () => {
  const y = labels(1001);
  const copy = Int32Array.from(y);
  const r = applyLabelNoise(y, 10, { fraction: 0.25, seed: 5 });
  assert.deepEqual(y, copy, 'input not modified');
  assert.equal(r.corruptedCount, Math.round(0.25 * 1001));
  let changed = 0;
  let differs = 0;
  for (let i = 0; i < y.length; i++) {
    assert.ok(r.y[i] >= 0 && r.y[i] < 10);
    assert.equal(r.noisyMask[i], r.y[i] !== y[i] ? 1 : 0, `mask at ${i}`);
    changed += r.noisyMask[i];
    if (r.y[i] !== y[i]) differs++;
  }
  assert.equal(r.noisyCount, changed);
  assert.equal(changed, differs);
  // Without forceChange about 1/10 of the chosen keep their label by chance.
  assert.ok(
    r.noisyCount < r.corruptedCount && r.noisyCount > 0.8 * r.corruptedCount,
    `${r.noisyCount} of ${r.corruptedCount}`,
  );
  assert.deepEqual(applyLabelNoise(y, 10, { fraction: 0.25, seed: 5 }), r);
  assert.notDeepEqual(applyLabelNoise(y, 10, { fraction: 0.25, seed: 6 }).noisyMask, r.noisyMask);
  assert.equal(applyLabelNoise(y, 10, { fraction: 0, seed: 5 }).noisyCount, 0);
  assert.throws(
    () => applyLabelNoise(y, 10, { fraction: 1.2, seed: 0 }),
    /labelNoise\.fraction: got 1\.2/,
  );
});

test('label noise with forceChange changes every chosen label, uniformly over the other classes', () => {
  const n = 20000;
  const y = labels(n, 4);
  const r = applyLabelNoise(y, 4, { fraction: 0.5, seed: 1, forceChange: true });
  assert.equal(r.corruptedCount, 10000);
  assert.equal(r.noisyCount, 10000, 'every corrupted label changed');
  const all = applyLabelNoise(y, 4, { fraction: 1, seed: 2, forceChange: true });
  assert.equal(all.noisyCount, n);
  // New label given the old one: uniform over the 3 others (≈ 1/3 each).
  const table = new Map<string, number>();
  for (let i = 0; i < n; i++)
    table.set(`${y[i]}>${all.y[i]}`, (table.get(`${y[i]}>${all.y[i]}`) ?? 0) + 1);
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      const c = table.get(`${a}>${b}`) ?? 0;
      if (a === b) assert.equal(c, 0);
      else assert.ok(Math.abs(c / (n / 4) - 1 / 3) < 0.03, `${a}→${b}: ${c}`);
    }
  }
});

test('tracked subsets: clean from mask 0, noisy from mask 1, capped, sorted, deterministic', () => {
  const y = labels(2000);
  const { noisyMask } = applyLabelNoise(y, 10, { fraction: 0.1, seed: 3, forceChange: true });
  const t = trackedSubsets(noisyMask, 500, 7);
  assert.equal(t.clean.length, 500);
  assert.equal(t.noisy.length, 200, 'only 200 noisy examples exist');
  for (const i of t.clean) assert.equal(noisyMask[i], 0);
  for (const i of t.noisy) assert.equal(noisyMask[i], 1);
  for (const s of [t.clean, t.noisy]) for (let j = 1; j < s.length; j++) assert.ok(s[j] > s[j - 1]);
  assert.deepEqual(trackedSubsets(noisyMask, 500, 7), t);
  assert.notDeepEqual(trackedSubsets(noisyMask, 500, 8).clean, t.clean);
  assert.equal(trackedSubsets(new Uint8Array(10), 5, 0).noisy.length, 0);
});

test('batch iterator: seeded per-epoch shuffles, fixed size, last partial batch dropped, random access', () => {
  const it = new BatchIterator(103, 10, 42);
  assert.equal(it.stepsPerEpoch, 10);
  const seen = new Set<number>();
  const epoch0: Int32Array[] = [];
  for (let s = 0; s < 10; s++) {
    const b = it.next();
    assert.equal(b.length, 10);
    epoch0.push(b);
    for (const i of b) {
      assert.ok(!seen.has(i), 'no repeats within an epoch');
      seen.add(i);
    }
  }
  assert.equal(seen.size, 100, '3 examples dropped this epoch');
  const epoch1 = it.next();
  assert.notDeepEqual(epoch1, epoch0[0], 'a new order each epoch');
  assert.equal(it.step, 11);
  assert.ok(Math.abs(it.epochFloat - 1.1) < 1e-12);
  const again = new BatchIterator(103, 10, 42);
  assert.deepEqual(again.batchAt(10), epoch1, 'random access equals sequential');
  assert.deepEqual(again.batchAt(3), epoch0[3]);
  assert.notDeepEqual(new BatchIterator(103, 10, 43).batchAt(0), epoch0[0]);
  assert.notDeepEqual(
    epoch0[0],
    Int32Array.from({ length: 10 }, (_, i) => i),
    'shuffled',
  );
  assert.throws(() => new BatchIterator(5, 10, 0), /batch size 10 exceeds the 5 training examples/);
});

test('rng: deterministic streams, ranges, distributions, sampling, state round trip', () => {
  // xoshiro128** reference vector from state {1, 2, 3, 4}.
  const ref = new Rng(0);
  ref.setState([1, 2, 3, 4]);
  assert.deepEqual(
    Array.from({ length: 6 }, () => ref.uint32()),
    [11520, 0, 5927040, 70819200, 2031721883, 1637235492],
  );
  // Regression guard for the seeding: changing these changes every seeded run.
  const a = new Rng(0);
  assert.deepEqual([a.uint32(), a.uint32(), a.uint32()], [2184376314, 3363837392, 3192990082]);
  assert.deepEqual(new Rng(7, 'probe').permutation(20), new Rng(7, 'probe').permutation(20));
  assert.notDeepEqual(new Rng(7, 'probe').permutation(20), new Rng(7, 'order').permutation(20));
  assert.notDeepEqual(new Rng(7).permutation(20), new Rng(8).permutation(20));
  assert.notEqual(deriveSeed(2 ** 32), deriveSeed(0), 'high bits of large seeds count');
  const r = new Rng(1);
  const counts = new Array(6).fill(0);
  let sum = 0;
  let sq = 0;
  const N = 60000;
  for (let i = 0; i < N; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    counts[r.int(6)]++;
    const z = r.normal();
    sum += z;
    sq += z * z;
  }
  for (const c of counts) assert.ok(Math.abs(c / N - 1 / 6) < 0.01, `int(6) counts ${counts}`);
  assert.ok(Math.abs(sum / N) < 0.02 && Math.abs(sq / N - 1) < 0.03, 'standard normal');
  assert.equal(r.int(1), 0);
  assert.throws(() => r.int(0), /int\(n\)/);
  for (const [k, n] of [
    [5, 1000],
    [900, 1000],
    [0, 3],
    [3, 3],
  ]) {
    const s = new Rng(k).sample(k, n);
    assert.equal(s.length, k);
    assert.equal(new Set(s).size, k);
    for (let j = 0; j < k; j++) assert.ok(s[j] >= 0 && s[j] < n && (j === 0 || s[j] > s[j - 1]));
  }
  assert.throws(() => r.sample(4, 3), /k must be an integer in \[0, 3\]/);
  const p = new Rng(2).shuffle(Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(
    [...p].sort((x, y) => x - y),
    Array.from({ length: 50 }, (_, i) => i),
  );
  const st = r.getState();
  const next = [r.uint32(), r.uint32()];
  r.setState(st);
  assert.deepEqual([r.uint32(), r.uint32()], next);
  const f1 = new Rng(3).fork('x');
  const f2 = new Rng(3).fork('x');
  assert.equal(f1.uint32(), f2.uint32());
});
