import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveConfig, parseConfig, ConfigError, stepsPerEpoch, totalSteps, runConfigJsonSchema } from '../../src/shared/config';

/** The problems a config produces (fails the test if it is accepted). */
function problems(input: unknown): string[] {
  try {
    resolveConfig(input, 'my.fisher.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `ConfigError expected, got ${e}`);
    assert.ok(e.message.startsWith('my.fisher.json: invalid run config:'), 'message names the file');
    assert.equal(e.source, 'my.fisher.json');
    return e.problems;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

/** Exactly one problem, mentioning every fragment (field, value, what is allowed). */
function one(input: unknown, ...fragments: string[]): void {
  const p = problems(input);
  assert.equal(p.length, 1, `one problem for ${JSON.stringify(input)}: ${JSON.stringify(p)}`);
  for (const f of fragments) assert.ok(p[0].includes(f), `${JSON.stringify(p[0])} should mention ${JSON.stringify(f)}`);
}

test('every class of bad field names the field, the value given and what is allowed', () => {
  // Wrong type.
  one({ optimizer: { lr: 'fast' } }, 'optimizer.lr', '"fast"', 'expected number');
  one({ optimizer: { lr: null } }, 'optimizer.lr', 'null', 'expected number');
  one({ labelNoise: { forceChange: 'yes' } }, 'labelNoise.forceChange', '"yes"', 'expected boolean');
  one({ dataset: 'mnist' }, 'dataset', '"mnist"', 'expected object');
  one({ model: { arch: 'mlp', hidden: 'big' } }, 'model.hidden', '"big"', 'expected array');
  // Integer expected.
  one({ optimizer: { batchSize: 12.5 } }, 'optimizer.batchSize', '12.5', 'expected integer');
  one({ seed: 1.5 }, 'seed', '1.5', 'integer');
  // Ranges: minimum, maximum, exclusive bounds.
  one({ optimizer: { lr: -1 } }, 'optimizer.lr', '-1', '> 0');
  one({ optimizer: { lr: 1000 } }, 'optimizer.lr', '1000', '<= 100');
  one({ optimizer: { momentum: 1 } }, 'optimizer.momentum', 'got 1', '< 1');
  one({ seed: -1 }, 'seed', '-1', '>= 0');
  one({ labelNoise: { fraction: 1.5 } }, 'labelNoise.fraction', '1.5', '<= 1');
  one({ fisher: { probeSize: 1 } }, 'fisher.probeSize', 'got 1', '>= 2');
  one({ schedule: { epochs: 0 } }, 'schedule.epochs', 'got 0', '> 0');
  one({ dataset: { name: 'synthetic', syntheticShape: [8, 8, 0] } }, 'dataset.syntheticShape.2', 'got 0', '>= 1');
  one({ schedule: { milestones: [0.5, 1.5] } }, 'schedule.milestones.1', '1.5', '<= 1');
  // Enumerations list the allowed values.
  one({ model: { arch: 'transformer' } }, 'model.arch', '"transformer"', '"mlp", "simplecnn", "vgg11", "resnet"');
  one({ backend: 'tpu' }, 'backend', '"tpu"', '"auto"', '"wasm"', '"cpu"');
  one({ penalty: { kind: 'l2' } }, 'penalty.kind', '"l2"', '"fisher"', '"gpx"');
  one({ dataset: { name: 'imagenet' } }, 'dataset.name', '"imagenet"', '"cifar100"', '"synthetic"');
  // Unknown fields (typos) list the fields allowed there.
  one({ model: { activaton: 'relu' } }, 'model.activaton', 'unknown field', 'activation');
  one({ lerning_rate: 1 }, 'lerning_rate', 'unknown field', 'optimizer', 'schedule');
  // Strings: pattern and length.
  one({ name: '-bad name!' }, 'name', '"-bad name!"', 'pattern');
  one({ name: 'x'.repeat(81) }, 'name', 'more than 80 characters');
  // Arrays and tuples.
  one({ model: { arch: 'mlp', hidden: Array(17).fill(8) } }, 'model.hidden', 'more than 16 items');
  one({ dataset: { name: 'synthetic', syntheticShape: [8, 8] } }, 'dataset.syntheticShape', '[8,8]', 'fewer than 3 items');
  // Root.
  for (const bad of [[], null, 42, 'x']) one(bad, '(root)', JSON.stringify(bad), 'expected a JSON object');
});

test('cross-field rules name the fields involved', () => {
  one({ schedule: { epochs: 2, steps: 10 } }, 'schedule', 'epochs (2)', 'steps (10)', 'give one of them');
  one({ dataset: { name: 'idx' } }, 'dataset.path', 'required', '"idx"');
  one({ dataset: { name: 'cifar10' } }, 'dataset.path', 'required', '"cifar10"');
  one({ dataset: { name: 'mnist', syntheticClasses: 3 } }, 'syntheticClasses', 'only allowed with dataset.name "synthetic"');
  one({ model: { arch: 'simplecnn', hidden: [10] } }, 'model.hidden', 'only allowed with model.arch "mlp"', '"simplecnn"');
  one({ dataset: { trainSize: 100 }, optimizer: { batchSize: 32 }, fisher: { probeSize: 500 } }, 'fisher.probeSize', 'got 500', 'dataset.trainSize (100)');
  one({ dataset: { trainSize: 100 }, optimizer: { batchSize: 500 }, fisher: { probeSize: 10 } }, 'optimizer.batchSize', 'got 500', 'dataset.trainSize (100)');
  one({ schedule: { milestones: [0.7, 0.5] } }, 'schedule.milestones', '[0.7,0.5]', 'strictly increasing');
  // Several problems are all reported at once.
  const many = problems({ optimizer: { lr: -1, momentum: 2 }, model: { arch: 'x' }, extra: true });
  assert.equal(many.length, 4, JSON.stringify(many));
});

test('defaults: a minimal config resolves to the documented values', () => {
  const input = { dataset: { name: 'synthetic' } };
  const cfg = resolveConfig(input);
  assert.deepEqual(input, { dataset: { name: 'synthetic' } }, 'input not modified');
  assert.deepEqual(cfg, {
    seed: 0,
    dataset: { name: 'synthetic', trainSize: 10000, testSize: 2000 },
    model: { arch: 'simplecnn', width: 1, activation: 'relu' },
    optimizer: { lr: 0.01, momentum: 0.9, weightDecay: 0, batchSize: 128 },
    schedule: { epochs: 1, lrSchedule: 'constant', milestones: [0.5, 0.75], gamma: 0.1 },
    labelNoise: { fraction: 0, seed: 0, forceChange: false, trackSize: 500 },
    fisher: { every: 10, probeSize: 128, lossThreshold: 1, warmupSteps: 20 },
    penalty: { kind: 'none', alpha: 0.01, every: 10, startEpoch: 0 },
    evalEvery: 100,
    checkpoint: true,
    backend: 'auto',
  });
  assert.deepEqual(resolveConfig({}).dataset.name, 'mnist');
  const partial = resolveConfig({ $schema: './schema.json', optimizer: { lr: 0.1 }, penalty: { kind: 'fisher' } });
  assert.equal(partial.optimizer.lr, 0.1);
  assert.equal(partial.optimizer.momentum, 0.9, 'siblings of a given field get defaults');
  assert.equal(partial.penalty.alpha, 0.01);
  assert.equal('$schema' in partial, false, '$schema dropped');
});

test('training length: epochs xor steps, epochs default 1; steps per epoch and total steps', () => {
  const e = resolveConfig({ dataset: { trainSize: 1000 }, optimizer: { batchSize: 128 }, schedule: { epochs: 2.5 } });
  assert.equal(e.schedule.steps, undefined);
  assert.equal(stepsPerEpoch(e), 7, 'last partial batch dropped');
  assert.equal(totalSteps(e), Math.round(2.5 * 7));
  const s = resolveConfig({ schedule: { steps: 300 } });
  assert.equal(s.schedule.epochs, undefined, 'no epochs default when steps are given');
  assert.equal(totalSteps(s), 300);
  const d = resolveConfig({ dataset: { trainSize: 1000 }, optimizer: { batchSize: 100 } });
  assert.equal(d.schedule.epochs, 1);
  assert.equal(totalSteps(d), 10);
  one({ schedule: { steps: 0 } }, 'schedule.steps', 'got 0', '>= 1');
  one({ schedule: { steps: 10.5 } }, 'schedule.steps', '10.5', 'integer');
});

test('JSON syntax errors name the file and the line and column', () => {
  const err = (text: string) => {
    try {
      parseConfig(text, 'runs/a.fisher.json');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.ok(e.message.startsWith('runs/a.fisher.json: invalid run config:'));
      assert.equal(e.problems.length, 1);
      assert.match(e.problems[0], /^not valid JSON: /);
      return e.problems[0];
    }
    assert.fail('accepted');
  };
  assert.match(err('{\n  "seed": 1\n  "name": "x"\n}'), /line 3, column 3/, 'missing comma');
  assert.match(err('{\n  "seed": 1,\n}'), /line 3, column 1/, 'trailing comma');
  assert.match(err("{'seed': 1}"), /line 1, column 2/, 'single quotes');
  assert.match(err('{"seed": 1} extra'), /line 1, column 13/, 'trailing text');
  assert.match(err('{\n  "seed": '), /end of JSON input.*line 2, column 11/, 'truncated');
  assert.match(err(''), /end of JSON input/);
  // Valid JSON goes on to validation with the same file name.
  assert.throws(() => parseConfig('{"seed": -3}', 'b.fisher.json'), /b\.fisher\.json: invalid run config:\n {2}- seed: got -3; must be >= 0/);
  assert.equal(parseConfig('{"seed": 3}').seed, 3);
});

test('the published JSON schema carries defaults and descriptions for the editor', () => {
  const s = runConfigJsonSchema() as { $schema: string; properties: Record<string, { properties?: Record<string, { default?: unknown; description?: string }> }>; additionalProperties: boolean };
  assert.match(s.$schema, /json-schema\.org/);
  assert.equal(s.additionalProperties, false);
  assert.equal(s.properties.optimizer.properties!.lr.default, 0.01);
  assert.ok(s.properties.fisher.properties!.lossThreshold.description!.includes('ε'));
  assert.doesNotThrow(() => JSON.stringify(s));
});
