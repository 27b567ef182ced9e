import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateCost, sameBackend, type PastRun } from '../../src/shared/costEstimate';

const past = (o: Partial<PastRun>): PastRun => ({
  arch: 'simplecnn',
  penalty: false,
  backend: 'torch-cpu',
  steps: 1000,
  wallSeconds: 100,
  startedAt: 1,
  ...o,
});

test('cost: seconds per step of comparable runs on the same backend, scaled to the new run', () => {
  const history = [
    past({ steps: 1000, wallSeconds: 100, startedAt: 3 }),
    past({ steps: 3000, wallSeconds: 240, startedAt: 2 }), // 0.08 s/step
    past({ penalty: true, wallSeconds: 1000, startedAt: 4 }), // other kind
    past({ arch: 'mlp', wallSeconds: 10, startedAt: 5 }), // other model
    past({ backend: 'wasm', wallSeconds: 5000, startedAt: 6 }), // other backend
  ];
  const e = estimateCost({ arch: 'simplecnn', penalty: false, steps: 250 }, 'torch', history);
  // (100 + 240) s over 4000 steps = 0.085 s/step → 21.25 s.
  assert.ok(Math.abs(e.seconds! - 21.25) < 1e-9, String(e.seconds));
  assert.equal(e.basedOn, 2);
  assert.equal(e.text, '≈ 21s on torch (from 2 earlier simplecnn runs)');
  const p = estimateCost({ arch: 'simplecnn', penalty: true, steps: 2000 }, 'torch-cpu', history);
  assert.equal(p.text, '≈ 33m20s on torch-cpu (from 1 earlier simplecnn + penalty run)');
  // auto: the backend of the newest run (wasm here).
  const a = estimateCost({ arch: 'simplecnn', penalty: false, steps: 100 }, 'auto', history);
  assert.equal(a.backend, 'wasm');
  assert.equal(a.seconds, 500);
});

test('cost: nothing is guessed without a comparable run; unusable runs are ignored', () => {
  const none = estimateCost({ arch: 'mlp', penalty: false, steps: 10 }, 'auto', []);
  assert.equal(none.seconds, null);
  assert.equal(none.text, 'time unknown: no finished run here yet');
  const other = estimateCost({ arch: 'mlp', penalty: false, steps: 10 }, 'cpu', [
    past({ arch: 'mlp', backend: 'cpu', wallSeconds: 0 }),
    past({ arch: 'mlp', backend: 'cpu', steps: 0 }),
    past({ arch: 'mlp', backend: 'wasm' }),
  ]);
  assert.equal(other.seconds, null);
  assert.equal(other.text, 'time unknown on cpu: no finished mlp run there yet');
  assert.ok(sameBackend('torch', 'torch-cuda') && !sameBackend('torch-cpu', 'torch-cuda'));
});
