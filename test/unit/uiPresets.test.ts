import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError, runConfigJsonSchema } from '../../src/shared/config';
import { fakeRunEvents, writeFakeRun } from '../../src/runs/fakeRun';
import { RUN_FILES } from '../../src/shared/protocol';
import { PRESETS, presetConfig, withFisherPenalty } from '../../src/shared/presets';

test('presets: the paper set-ups resolve, overrides shrink them', () => {
  assert.deepEqual(
    PRESETS.map((p) => p.id),
    ['large-lr', 'small-lr', 'small-lr-fp', 'noisy-25', 'noisy-25-fp'],
  );
  const cfgs = Object.fromEntries(PRESETS.map((p) => [p.id, presetConfig(p)]));
  for (const c of Object.values(cfgs)) {
    assert.equal(c.optimizer.momentum, 0.9);
    assert.equal(c.optimizer.batchSize, 128);
    assert.equal(c.dataset.name, 'mnist');
  }
  assert.ok(
    Math.abs(cfgs['small-lr'].optimizer.lr * 10 - cfgs['large-lr'].optimizer.lr) < 1e-12,
    'η*/10',
  );
  assert.equal(cfgs['small-lr-fp'].penalty.kind, 'fisher');
  assert.equal(cfgs['small-lr-fp'].penalty.alpha, 0.01);
  assert.equal(cfgs['small-lr-fp'].penalty.every, 10);
  assert.equal(cfgs['noisy-25'].labelNoise.fraction, 0.25);
  assert.equal(cfgs['noisy-25'].penalty.kind, 'none');
  assert.equal(cfgs['noisy-25-fp'].penalty.kind, 'fisher');
  const tiny = presetConfig(PRESETS[1], {
    dataset: { name: 'synthetic', trainSize: 256, testSize: 64 },
    schedule: { steps: 20 },
    fisher: { probeSize: 16 },
  });
  assert.equal(tiny.dataset.trainSize, 256);
  assert.equal(tiny.schedule.steps, 20);
  assert.equal(tiny.schedule.epochs, undefined, 'a steps override replaces the preset epochs');
});

test('presets: invalid overrides name the field', () => {
  assert.throws(
    () => presetConfig(PRESETS[0], { optimizer: { lr: -1 } }),
    (e: unknown) => e instanceof ConfigError && /optimizer\.lr/.test(e.message),
  );
});

test('presets: rerun with Fisher penalty', () => {
  const c = withFisherPenalty(presetConfig(PRESETS[1]));
  assert.equal(c.name, 'small-lr-fp');
  assert.deepEqual(c.penalty, { kind: 'fisher', alpha: 0.01, every: 10, startEpoch: 0 });
  assert.equal(withFisherPenalty(c).name, 'small-lr-fp');
});

test('schema: committed schemas/run-config.schema.json is up to date', () => {
  const file = path.join(__dirname, '..', '..', 'schemas', 'run-config.schema.json');
  const committed = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.deepEqual(committed, runConfigJsonSchema(), 'run `npm run build` to regenerate it');
});

test('fake run: writes a run directory, replays live, honours STOP', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-fake-'));
  try {
    const dir = await writeFakeRun(root, { runId: 'fake-a', steps: 200 });
    for (const f of [RUN_FILES.config, RUN_FILES.events, RUN_FILES.status, RUN_FILES.summary])
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    const lines = fs.readFileSync(path.join(dir, RUN_FILES.events), 'utf8').trim().split('\n');
    assert.equal(JSON.parse(lines[0]).type, 'header');
    assert.equal(lines.length, fakeRunEvents({ runId: 'fake-a', steps: 200 }).length);
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.status), 'utf8')).state,
      'completed',
    );
    const live = writeFakeRun(
      root,
      { runId: 'fake-b', steps: 2000 },
      { replayMs: 20, chunkSteps: 10 },
    );
    await new Promise((r) => setTimeout(r, 100));
    const st = JSON.parse(fs.readFileSync(path.join(root, 'fake-b', RUN_FILES.status), 'utf8'));
    assert.equal(st.state, 'running');
    assert.equal(st.pid, process.pid);
    fs.writeFileSync(path.join(root, 'fake-b', RUN_FILES.stop), '');
    await live;
    const end = JSON.parse(fs.readFileSync(path.join(root, 'fake-b', RUN_FILES.status), 'utf8'));
    assert.equal(end.state, 'stopped');
    assert.ok(end.step < 2000);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
