import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimateIndices, pick } from '../../src/shared/decimate';
import type { Val } from '../../src/shared/series';

function rand(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('decimate: property — min/max of every bucket kept, peak survives, ascending, bounded size', () => {
  for (let trial = 0; trial < 200; trial++) {
    const r = rand(trial + 1);
    const n = 1 + Math.floor(r() * 20000);
    const buckets = 1 + Math.floor(r() * 500);
    const xs: number[] = [];
    let x = r() * 10;
    for (let i = 0; i < n; i++) xs.push((x += r() < 0.05 ? 0 : r() * 3)); // non-decreasing, some repeats
    const ys: Val[] = xs.map(() =>
      r() < 0.02 ? null : (r() - 0.5) * 10 + (r() < 0.001 ? 1000 * r() : 0),
    );
    const peak = Math.floor(r() * n);
    ys[peak] = 1e6; // the global peak
    const idx = decimateIndices(xs, [ys], buckets);
    for (let j = 1; j < idx.length; j++) assert.ok(idx[j] > idx[j - 1], 'strictly ascending');
    assert.ok(idx.includes(peak), 'peak index survives');
    assert.ok(idx.includes(0) && idx.includes(n - 1), 'end points kept');
    if (n <= 4 * buckets) assert.equal(idx.length, n, 'short series kept whole');
    else assert.ok(idx.length <= 5 * buckets + 3, `size ${idx.length} for ${buckets} buckets`);
    // Per bucket: min and max of the bucket appear among the kept values.
    const from = xs[0];
    const span = xs[n - 1] - from;
    const bucketOf = (v: number) =>
      span > 0 ? Math.min(buckets - 1, Math.floor(((v - from) / span) * buckets)) : 0;
    const kept = new Set(idx);
    const mins = new Map<number, number>();
    const maxs = new Map<number, number>();
    const keptMin = new Map<number, number>();
    const keptMax = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const y = ys[i];
      if (y === null) continue;
      const b = bucketOf(xs[i]);
      mins.set(b, Math.min(mins.get(b) ?? Infinity, y));
      maxs.set(b, Math.max(maxs.get(b) ?? -Infinity, y));
      if (kept.has(i)) {
        keptMin.set(b, Math.min(keptMin.get(b) ?? Infinity, y));
        keptMax.set(b, Math.max(keptMax.get(b) ?? -Infinity, y));
      }
    }
    for (const [b, m] of mins) assert.equal(keptMin.get(b), m, `bucket ${b} min`);
    for (const [b, m] of maxs) assert.equal(keptMax.get(b), m, `bucket ${b} max`);
  }
});

test('decimate: short series untouched, several columns unioned, forced indices kept', () => {
  const xs = [0, 1, 2, 3, 4];
  assert.deepEqual(decimateIndices(xs, [[1, 2, 3, 4, 5]], 10), [0, 1, 2, 3, 4]);
  const n = 10000;
  const X = Array.from({ length: n }, (_, i) => i);
  const a: Val[] = X.map((i) => Math.sin(i));
  const b: Val[] = X.map(() => 0);
  b[1234] = 50;
  a[4321] = -50;
  const idx = decimateIndices(X, [a, b], 100, { keep: [7777] });
  assert.ok(idx.includes(1234) && idx.includes(4321) && idx.includes(7777));
  assert.ok(idx.length < 1000, `${idx.length}`);
  assert.deepEqual(pick(['a', 'b', 'c'], [0, 2]), ['a', 'c']);
});

test('decimate: visible range keeps one neighbour outside each side', () => {
  const X = Array.from({ length: 100000 }, (_, i) => i);
  const Y: Val[] = X.map((i) => (i === 50500 ? 9 : 0));
  const idx = decimateIndices(X, [Y], 50, { from: 50000, to: 51000 });
  assert.equal(idx[0], 49999);
  assert.equal(idx[idx.length - 1], 51001);
  assert.ok(idx.includes(50500));
});
