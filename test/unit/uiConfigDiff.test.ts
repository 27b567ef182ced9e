import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveConfig } from '../../src/shared/config';
import { configDiff, deepMerge, flatten, jsonEqual } from '../../src/shared/configDiff';

test('configDiff: only differing paths, missing counts as different', () => {
  const a = resolveConfig({ name: 'a', optimizer: { lr: 0.05 } });
  const b = resolveConfig({ name: 'b', optimizer: { lr: 0.005 }, penalty: { kind: 'fisher' } });
  const c = resolveConfig({ name: 'c', optimizer: { lr: 0.005 }, dataset: { path: 'x' } });
  const rows = configDiff([a, b, c]);
  const paths = rows.map((r) => r.path);
  assert.deepEqual(paths.sort(), ['dataset.path', 'name', 'optimizer.lr', 'penalty.kind'].sort());
  const lr = rows.find((r) => r.path === 'optimizer.lr')!;
  assert.deepEqual(lr.values, [0.05, 0.005, 0.005]);
  const p = rows.find((r) => r.path === 'dataset.path')!;
  assert.deepEqual(p.values, [undefined, undefined, 'x']);
  assert.deepEqual(configDiff([a, structuredClone(a)]), []);
  assert.deepEqual(configDiff([a]), []);
});

test('configDiff: arrays are leaves; helpers', () => {
  const rows = configDiff([
    { m: { hidden: [1, 2] } },
    { m: { hidden: [1, 2] } },
    { m: { hidden: [1, 3] } },
  ]);
  assert.deepEqual(rows, [
    {
      path: 'm.hidden',
      values: [
        [1, 2],
        [1, 2],
        [1, 3],
      ],
    },
  ]);
  assert.deepEqual(
    [...flatten({ a: { b: 1, c: [1] }, d: null })],
    [
      ['a.b', 1],
      ['a.c', [1]],
      ['d', null],
    ],
  );
  assert.ok(jsonEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.deepEqual(deepMerge({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3 }, d: [2] }), {
    a: { b: 1, c: 3 },
    d: [2],
  });
  const polluted = deepMerge({}, JSON.parse('{"__proto__": {"x": 1}}')) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.equal(polluted.x, undefined);
});
