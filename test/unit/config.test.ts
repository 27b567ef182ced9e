import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  resolveConfig,
  parseConfig,
  readConfigFile,
  ConfigError,
  ConfigFileError,
  LIMITS,
  stepsPerEpoch,
  totalSteps,
  runConfigJsonSchema,
  numberSources,
} from '../../src/shared/config';

/** The problems a config produces (fails the test if it is accepted). */
function problems(input: unknown): string[] {
  try {
    resolveConfig(input, 'my.fisher.json');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `ConfigError expected, got ${e}`);
    assert.ok(
      e.message.startsWith('my.fisher.json: invalid run config:'),
      'message names the file',
    );
    assert.equal(e.source, 'my.fisher.json');
    return e.problems;
  }
  assert.fail(`accepted ${JSON.stringify(input)}`);
}

/** Exactly one problem, mentioning every fragment (field, value, what is allowed). */
function one(input: unknown, ...fragments: string[]): void {
  const p = problems(input);
  assert.equal(p.length, 1, `one problem for ${JSON.stringify(input)}: ${JSON.stringify(p)}`);
  for (const f of fragments)
    assert.ok(p[0].includes(f), `${JSON.stringify(p[0])} should mention ${JSON.stringify(f)}`);
}

test('every class of bad field names the field, the value given and what is allowed', () => {
  // Wrong type.
  one({ optimizer: { lr: 'fast' } }, 'optimizer.lr', '"fast"', 'expected number');
  one({ optimizer: { lr: null } }, 'optimizer.lr', 'null', 'expected number');
  one(
    { labelNoise: { forceChange: 'yes' } },
    'labelNoise.forceChange',
    '"yes"',
    'expected boolean',
  );
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
  one(
    { dataset: { name: 'synthetic', syntheticShape: [8, 8, 0] } },
    'dataset.syntheticShape.2',
    'got 0',
    '>= 1',
  );
  one({ schedule: { milestones: [0.5, 1.5] } }, 'schedule.milestones.1', '1.5', '<= 1');
  // Enumerations list the allowed values.
  one(
    { model: { arch: 'transformer' } },
    'model.arch',
    '"transformer"',
    '"mlp", "simplecnn", "vgg11", "resnet"',
  );
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
  one(
    { dataset: { name: 'synthetic', syntheticShape: [8, 8] } },
    'dataset.syntheticShape',
    '[8,8]',
    'fewer than 3 items',
  );
  // Root.
  for (const bad of [[], null, 42, 'x'])
    one(bad, '(root)', JSON.stringify(bad), 'expected a JSON object');
});

test('cross-field rules name the fields involved', () => {
  one(
    { schedule: { epochs: 2, steps: 10 } },
    'schedule',
    'epochs (2)',
    'steps (10)',
    'give one of them',
  );
  one({ dataset: { name: 'idx' } }, 'dataset.path', 'required', '"idx"');
  one({ dataset: { name: 'cifar10' } }, 'dataset.path', 'required', '"cifar10"');
  one(
    { dataset: { name: 'mnist', syntheticClasses: 3 } },
    'syntheticClasses',
    'only allowed with dataset.name "synthetic"',
  );
  one(
    { model: { arch: 'simplecnn', hidden: [10] } },
    'model.hidden',
    'only allowed with model.arch "mlp"',
    '"simplecnn"',
  );
  one(
    { dataset: { trainSize: 100 }, optimizer: { batchSize: 32 }, fisher: { probeSize: 500 } },
    'fisher.probeSize',
    'got 500',
    'dataset.trainSize (100)',
  );
  one(
    { dataset: { trainSize: 100 }, optimizer: { batchSize: 500 }, fisher: { probeSize: 10 } },
    'optimizer.batchSize',
    'got 500',
    'dataset.trainSize (100)',
  );
  one(
    { schedule: { milestones: [0.7, 0.5] } },
    'schedule.milestones',
    '[0.7,0.5]',
    'strictly increasing',
  );
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
  const partial = resolveConfig({
    $schema: './schema.json',
    optimizer: { lr: 0.1 },
    penalty: { kind: 'fisher' },
  });
  assert.equal(partial.optimizer.lr, 0.1);
  assert.equal(partial.optimizer.momentum, 0.9, 'siblings of a given field get defaults');
  assert.equal(partial.penalty.alpha, 0.01);
  assert.equal('$schema' in partial, false, '$schema dropped');
});

test('training length: epochs xor steps, epochs default 1; steps per epoch and total steps', () => {
  const e = resolveConfig({
    dataset: { trainSize: 1000 },
    optimizer: { batchSize: 128 },
    schedule: { epochs: 2.5 },
  });
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
  assert.throws(
    () => parseConfig('{"seed": -3}', 'b.fisher.json'),
    /b\.fisher\.json: invalid run config:\n {2}- seed: got -3; must be >= 0/,
  );
  assert.equal(parseConfig('{"seed": 3}').seed, 3);
});

test('the published JSON schema carries defaults and descriptions for the editor', () => {
  const s = runConfigJsonSchema() as {
    $schema: string;
    properties: Record<
      string,
      { properties?: Record<string, { default?: unknown; description?: string }> }
    >;
    additionalProperties: boolean;
  };
  assert.match(s.$schema, /json-schema\.org/);
  assert.equal(s.additionalProperties, false);
  assert.equal(s.properties.optimizer.properties!.lr.default, 0.01);
  assert.ok(s.properties.fisher.properties!.lossThreshold.description!.includes('ε'));
  assert.doesNotThrow(() => JSON.stringify(s));
});

/** The problems of a config text (fails the test if it is accepted or throws anything but a ConfigError). */
function textProblems(text: string): string[] {
  try {
    parseConfig(text, 'x.fisher.json');
  } catch (e) {
    assert.ok(
      e instanceof ConfigError,
      `ConfigError expected, got ${(e as Error)?.name}: ${(e as Error)?.message}`,
    );
    return e.problems;
  }
  assert.fail(`accepted ${text.slice(0, 200)}`);
}

const field0 = (parts: string[]) => parts.join('.');

/** Every number/integer leaf of the run-config schema as [JSON pointer to a value, how to place a value there]. */
function numericFields(): { field: string; place: (v: string) => string }[] {
  const out: { field: string; place: (v: string) => string }[] = [];
  const walk = (node: Record<string, unknown>, parts: string[]) => {
    const props = node.properties as Record<string, Record<string, unknown>> | undefined;
    if (props) for (const [k, v] of Object.entries(props)) walk(v, [...parts, k]);
    const items = node.items as Record<string, unknown> | Record<string, unknown>[] | undefined;
    if (items) {
      const list = Array.isArray(items) ? items : [items];
      list.forEach((it, i) => walk(it, [...parts, String(i)]));
    }
    if (node.type === 'number' || node.type === 'integer') {
      out.push({
        field: parts.join('.'),
        place: (v) => {
          // Build the JSON text around the value; array positions get valid siblings before them.
          let text = v;
          for (let i = parts.length - 1; i >= 0; i--) {
            const k = parts[i];
            // Array positions get valid siblings (a tuple all its items), so only the value placed is wrong.
            text = /^\d+$/.test(k)
              ? `[${'1,'.repeat(Number(k))}${text}${field0(parts.slice(0, i)) === 'dataset.syntheticShape' ? ',1'.repeat(2 - Number(k)) : ''}]`
              : `{${JSON.stringify(k)}:${text}}`;
          }
          return text;
        },
      });
    }
  };
  walk(runConfigJsonSchema() as Record<string, unknown>, []);
  return out;
}

test('1e400 and -1e400 in every numeric field: rejected, naming the field and showing the value as written', () => {
  const fields = numericFields();
  assert.ok(
    fields.length >= 17,
    `found ${fields.length} numeric fields: ${fields.map((f) => f.field).join(', ')}`,
  );
  for (const { field, place } of fields) {
    for (const v of ['1e400', '-1e400', '123456789e999']) {
      const p = textProblems(place(v));
      const hit = p.find((x) => x.startsWith(`${field}: `));
      assert.ok(hit, `${field} = ${v}: no problem names the field: ${JSON.stringify(p)}`);
      assert.equal(hit, `${field}: expected a finite number, got ${v}`);
      assert.ok(
        !p.some((x) => /null|Infinity/.test(x)),
        `no "null"/"Infinity" in ${JSON.stringify(p)}`,
      );
    }
  }
  // Non-finite values given as objects (not text) are rejected too, shown as JavaScript prints them.
  one({ optimizer: { lr: Infinity } }, 'optimizer.lr', 'expected a finite number', 'Infinity');
  one({ schedule: { epochs: NaN } }, 'schedule.epochs', 'expected a finite number', 'NaN');
  // A non-finite number where a string is expected is a type error, still shown as written.
  assert.deepEqual(textProblems('{"name": 1e400}'), ['name: got 1e400; expected string']);
});

test('integers beyond 2^53 − 1 are rejected as written; the largest safe seed is kept exactly', () => {
  const p = textProblems('{"seed": 9007199254740993}');
  assert.deepEqual(p, ['seed: got 9007199254740993; must be <= 9007199254740991']);
  assert.deepEqual(textProblems('{"labelNoise": {"seed": 18446744073709551616}}'), [
    'labelNoise.seed: got 18446744073709551616; must be <= 9007199254740991',
  ]);
  assert.equal(parseConfig('{"seed": 9007199254740991}').seed, Number.MAX_SAFE_INTEGER);
  // Integers written with many digits or an exponent are shown the way they were written.
  assert.deepEqual(textProblems('{"evalEvery": 1e20}'), [
    'evalEvery: got 1e20; must be <= 1000000000',
  ]);
  const long = '9'.repeat(300);
  const [msg] = textProblems(`{"fisher": {"every": ${long}}}`);
  assert.ok(msg.startsWith('fisher.every: got 9999') && msg.includes('…') && msg.length < 200, msg);
});

test('every number in the schema has an upper bound (documented in its description), and every integer bound is safe', () => {
  const schema = runConfigJsonSchema() as Record<string, unknown>;
  const unbounded: string[] = [];
  const walk = (node: Record<string, unknown>, where: string) => {
    for (const [k, v] of Object.entries(node.properties ?? {}))
      walk(v as Record<string, unknown>, `${where}.${k}`);
    const items = node.items as Record<string, unknown> | Record<string, unknown>[] | undefined;
    if (items)
      (Array.isArray(items) ? items : [items]).forEach((it, i) => walk(it, `${where}[${i}]`));
    if (node.type === 'number' || node.type === 'integer') {
      const max = (node.maximum ?? node.exclusiveMaximum) as number | undefined;
      if (max === undefined || max > Number.MAX_SAFE_INTEGER) unbounded.push(where);
    }
    if (node.type === 'array' && node.maxItems === undefined && !Array.isArray(items))
      unbounded.push(`${where} (items)`);
    if (node.type === 'string' && node.maxLength === undefined) unbounded.push(`${where} (length)`);
  };
  walk(schema, '');
  assert.deepEqual(unbounded, []);
  const desc = (
    schema.properties as Record<string, { properties: Record<string, { description: string }> }>
  ).schedule.properties;
  assert.match(desc.steps.description, /1,000,000,000/);
  // Steps that epochs imply are bounded too.
  one(
    {
      dataset: { trainSize: 1_000_000 },
      optimizer: { batchSize: 1 },
      fisher: { probeSize: 2 },
      schedule: { epochs: 1001 },
    },
    'schedule.epochs',
    'got 1001',
    '1,001,000,000 steps',
    'more than the 1,000,000,000',
  );
  assert.equal(
    totalSteps(
      resolveConfig({
        dataset: { trainSize: 1_000_000 },
        optimizer: { batchSize: 1 },
        fisher: { probeSize: 2 },
        schedule: { epochs: 1000 },
      }),
    ),
    1e9,
  );
  one({ model: { arch: 'mlp', hidden: [65537] } }, 'model.hidden.0', '65537', '<= 65536');
});

test('a UTF-8 byte-order mark is accepted, in text and in files', () => {
  assert.equal(parseConfig('\ufeff{"seed": 4}').seed, 4);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cfg-'));
  const f = path.join(dir, 'bom.fisher.json');
  fs.writeFileSync(f, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"seed": 5}')]));
  assert.equal(parseConfig(readConfigFile(f), f).seed, 5);
  // A BOM is not a licence for other junk: a second one is a syntax error.
  assert.match(textProblems('\ufeff\ufeff{}')[0], /^not valid JSON/);
});

test('deeply nested values are rejected naming the field, without overflowing the stack', () => {
  for (const depth of [33, 3000, 200_000]) {
    const deep = '['.repeat(depth) + ']'.repeat(depth);
    const inHidden = textProblems(`{"model": {"arch": "mlp", "hidden": ${deep}}}`);
    assert.equal(inHidden.length, 1, JSON.stringify(inHidden));
    assert.match(inHidden[0], /^model\.hidden\.0(\.0)*…?: nested more than 32 levels deep/);
    assert.ok(inHidden[0].length < 250);
    const unknown = textProblems(`{"extra": ${deep}}`);
    assert.match(unknown[0], /^extra\.0(\.0)*…?: nested more than 32 levels deep/);
    const objects = textProblems(
      `${'{"a":'.repeat(Math.min(depth, 5000))}1${'}'.repeat(Math.min(depth, 5000))}`,
    );
    assert.match(objects[0], /^a(\.a)*…?: nested more than 32 levels deep/);
  }
  // As objects too (the editor and presets call resolveConfig directly).
  let v: unknown = 1;
  for (let i = 0; i < 5000; i++) v = [v];
  assert.match(
    problems({ schedule: { milestones: v } })[0],
    /^schedule\.milestones\.0(\.0)*…?: nested more than 32 levels deep/,
  );
  // A valid config's depth (3) is far from the limit.
  assert.equal(resolveConfig({ schedule: { milestones: [0.5] } }).schedule.milestones[0], 0.5);
});

test('huge values, keys and counts are cut short in messages', () => {
  const big = 'x'.repeat(1_000_000);
  const p1 = textProblems(JSON.stringify({ name: big }));
  assert.equal(p1.length, 1);
  assert.ok(
    p1[0].startsWith('name: got "xxxx') && p1[0].includes('…') && p1[0].length < 200,
    p1[0].slice(0, 300),
  );
  const p2 = textProblems(JSON.stringify({ [big]: 1 }));
  assert.ok(p2[0].includes('…: unknown field') && p2[0].length < 400, p2[0].slice(0, 300));
  const p3 = textProblems(JSON.stringify({ dataset: { name: 'idx', path: big } }));
  assert.ok(
    p3.every((x) => x.length < 300),
    JSON.stringify(p3).slice(0, 500),
  );
  assert.ok(p3.some((x) => x.startsWith('dataset.path: got "xxx')));
  const p4 = textProblems(
    JSON.stringify({ model: { arch: 'mlp', hidden: Array(100_000).fill('x'.repeat(1000)) } }),
  );
  assert.ok(p4.every((x) => x.length < 400));
  // Keys with control characters are quoted (no terminal escapes reach the user).
  const [esc] = textProblems('{"\\u001b[31mred": 1}');
  assert.ok(esc.startsWith('"\\u001b[31mred": unknown field'), esc);
  // Many problems: the message lists 20 and counts the rest.
  const many: Record<string, number> = {};
  for (let i = 0; i < 500; i++) many[`k${i}`] = i;
  try {
    resolveConfig(many, 'm.json');
    assert.fail('accepted');
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.problems.length, 500);
    assert.match(e.message, /… and 480 more$/);
    assert.ok(e.message.length < 10_000);
  }
});

test('number sources: each number of a text by JSON pointer, exactly as written', () => {
  const m = numberSources(
    '{"a": [1, -2.50, {"b/c": 1e400}], "a~": 3, "d": {"e": 1E+2}, "d": {"e": 7}}',
  );
  assert.equal(m.get('/a/0'), '1');
  assert.equal(m.get('/a/1'), '-2.50');
  assert.equal(m.get('/a/2/b~1c'), '1e400');
  assert.equal(m.get('/a~0'), '3');
  assert.equal(m.get('/d/e'), '7', 'duplicate keys: the last wins, as in JSON.parse');
  assert.equal(numberSources('12').get(''), '12');
  assert.equal(
    numberSources('{"s": "1e400 \\" , [ 5"}').size,
    0,
    'numbers inside strings are not numbers',
  );
});

test('config files: size capped at 1 MiB; folders, FIFOs and devices refused without reading them', () => {
  assert.equal(LIMITS.fileBytes, 1 << 20);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-cfg-'));
  const refused = (file: string, pattern: RegExp) => {
    const t0 = Date.now();
    assert.throws(
      () => readConfigFile(file),
      (e: unknown) => {
        assert.ok(e instanceof ConfigFileError, `ConfigFileError expected, got ${e}`);
        assert.ok(e.message.startsWith(`${file}: `), e.message);
        assert.match(e.message, pattern);
        return true;
      },
    );
    assert.ok(Date.now() - t0 < 2000, `${file} refused at once`);
  };
  const exact = path.join(dir, 'exact.fisher.json');
  fs.writeFileSync(exact, '{}' + ' '.repeat((1 << 20) - 2));
  assert.equal(parseConfig(readConfigFile(exact)).seed, 0, 'exactly 1 MiB is fine');
  const over = path.join(dir, 'over.fisher.json');
  fs.writeFileSync(over, '{}' + ' '.repeat((1 << 20) - 1));
  refused(over, /is 1,048,577 bytes; a config file may have at most 1,048,576 bytes \(1 MiB\)/);
  refused(dir, /is a folder, not a config file/);
  refused('/dev/zero', /is a character device, not a config file/);
  refused(path.join(dir, 'missing.json'), /cannot read the config file \(no such file\)/);
  refused(path.join(exact, 'below'), /a part of the path is not a folder/);
  const fifo = path.join(dir, 'pipe.fisher.json');
  const mk = spawnSync('mkfifo', [fifo]);
  if (mk.status === 0) refused(fifo, /is a FIFO \(named pipe\), not a config file/);
  else assert.fail('mkfifo is needed for this test');
  // A file whose stat size lies (procfs reports 0) is still read at most to the cap.
  if (fs.existsSync('/proc/self/status')) {
    assert.throws(() => readConfigFile('/proc/self/status', 16), /is larger than 16 bytes/);
  }
  const latin1 = path.join(dir, 'latin1.fisher.json');
  fs.writeFileSync(
    latin1,
    Buffer.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]),
  );
  refused(latin1, /is not UTF-8 text/);
});

test('the editor schema states the rules between fields that JSON Schema can: steps or epochs, hidden only for mlp', () => {
  const Ajv = require('ajv') as typeof import('ajv').default;
  const check = new Ajv({ strict: false, allErrors: true }).compile(runConfigJsonSchema());
  const ok = (c: unknown) => check(c);
  assert.equal(ok({ schedule: { steps: 10, epochs: 1 } }), false);
  assert.ok(
    check.errors!.some((e) => e.instancePath === '/schedule/epochs'),
    JSON.stringify(check.errors),
  );
  assert.equal(ok({ schedule: { steps: 10 } }), true);
  assert.equal(ok({ schedule: { epochs: 2 } }), true);
  assert.equal(ok({ model: { arch: 'simplecnn', hidden: [10] } }), false);
  assert.equal(ok({ model: { arch: 'mlp', hidden: [10] } }), true);
  // The trainer's validator agrees on both, and marks them as rules between fields.
  for (const bad of [
    { schedule: { steps: 10, epochs: 1 } },
    { model: { arch: 'simplecnn', hidden: [10] } },
    { dataset: { trainSize: 100 }, fisher: { probeSize: 200 } },
  ]) {
    try {
      resolveConfig(bad);
      assert.fail(`accepted ${JSON.stringify(bad)}`);
    } catch (e) {
      assert.ok(e instanceof ConfigError && e.crossField, String(e));
    }
  }
  try {
    resolveConfig({ optimizer: { lr: -1 } });
  } catch (e) {
    assert.ok(e instanceof ConfigError && !e.crossField, 'a field problem is the schema’s');
  }
});
