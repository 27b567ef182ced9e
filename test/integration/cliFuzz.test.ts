/**
 * Config fuzzing of `fisher-lens train`: a seeded generator mutates valid configs (the editor presets, a small
 * synthetic config, the minimal `{}`) and each mutated file must end with exit 2, a message naming the offending
 * field (or the file, for syntax and I/O errors), no stack trace, and nothing written under the runs root.
 * Mutations that happen to leave a valid config are recognised by the validator and skipped (never trained).
 *
 * Every case runs in-process through `runCli` (fast); a sample of them also through the real `fisher-lens`
 * program (bin/fisher-lens.js → dist/cli.js, built first), whose output must agree.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli';
import { parseConfig, resolveConfig, LIMITS, ConfigError } from '../../src/shared/config';
import { PRESETS } from '../../src/shared/presets';

const root = path.resolve(__dirname, '..', '..');
const bin = path.join(root, 'bin', 'fisher-lens.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-fuzz-'));
/** The runs root every case points at: it must never come into existence. */
const runsDir = path.join(tmp, 'runs');
const SEED = 20260107;
const CASES = 600;
const SPAWNED = 15;

before(() => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
});

/** mulberry32: small, seeded, reproducible. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
type Rand = ReturnType<typeof rng>;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Starting points: every preset, resolved (all fields present) and as written, a small synthetic config, `{}`. */
const BASES: Obj[] = [
  ...PRESETS.map((p) => structuredClone(p.config) as Obj),
  ...PRESETS.map((p) => JSON.parse(JSON.stringify(resolveConfig(p.config))) as Obj),
  {
    name: 'fuzz-small',
    dataset: {
      name: 'synthetic',
      trainSize: 256,
      testSize: 64,
      syntheticClasses: 4,
      syntheticShape: [6, 6, 1],
    },
    model: { arch: 'mlp', hidden: [16, 8] },
    optimizer: { lr: 0.05, batchSize: 32 },
    schedule: { steps: 5, lrSchedule: 'step', milestones: [0.5, 0.75] },
    fisher: { every: 2, probeSize: 16 },
    labelNoise: { fraction: 0.25, trackSize: 16 },
    penalty: { kind: 'fisher', alpha: 0.01 },
    backend: 'cpu',
  },
  {},
];

/** A placeholder string swapped for raw JSON text after JSON.stringify (1e400, 20,000-deep arrays…). */
const raws: string[] = [];
const RAW = (text: string) => `\u0000RAW${raws.push(text) - 1}\u0000`;
const unraw = (json: string) =>
  json.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_, i: string) => raws[Number(i)]);

/** Paths (arrays of keys) to every value in `o`, containers included. */
function paths(o: Json, prefix: string[] = [], out: string[][] = []): string[][] {
  if (o && typeof o === 'object') {
    for (const [k, v] of Object.entries(o)) {
      out.push([...prefix, k]);
      paths(v, [...prefix, k], out);
    }
  }
  return out;
}
const getAt = (o: Json, p: string[]): Json | undefined =>
  p.reduce<Json | undefined>((c, k) => (c && typeof c === 'object' ? (c as Obj)[k] : undefined), o);
function setAt(o: Obj, p: string[], v: Json | undefined): void {
  let c: Json = o;
  for (const k of p.slice(0, -1)) {
    if (!c || typeof c !== 'object') return;
    c = (c as Obj)[k];
  }
  if (!c || typeof c !== 'object') return;
  if (v === undefined) delete (c as Obj)[p.at(-1)!];
  else (c as Obj)[p.at(-1)!] = v;
}
const fieldOf = (p: string[]) => p.join('.');

const SECTIONS = [
  'dataset',
  'model',
  'optimizer',
  'schedule',
  'labelNoise',
  'fisher',
  'penalty',
] as const;
/** Numeric fields (also when a base leaves them out), and which of them are integers. */
const NUMERIC: [string[], boolean][] = [
  [['seed'], true],
  [['evalEvery'], true],
  [['dataset', 'trainSize'], true],
  [['dataset', 'testSize'], true],
  [['model', 'width'], false],
  [['optimizer', 'lr'], false],
  [['optimizer', 'momentum'], false],
  [['optimizer', 'weightDecay'], false],
  [['optimizer', 'batchSize'], true],
  [['schedule', 'epochs'], false],
  [['schedule', 'steps'], true],
  [['schedule', 'gamma'], false],
  [['labelNoise', 'fraction'], false],
  [['labelNoise', 'seed'], true],
  [['labelNoise', 'trackSize'], true],
  [['fisher', 'every'], true],
  [['fisher', 'probeSize'], true],
  [['fisher', 'lossThreshold'], false],
  [['fisher', 'warmupSteps'], true],
  [['penalty', 'alpha'], false],
  [['penalty', 'every'], true],
  [['penalty', 'startEpoch'], false],
];
const ENUMS: [string[], string[]][] = [
  [
    ['model', 'arch'],
    ['transformer', 'MLP', 'mlp ', '', 'simplecnn\u0000'],
  ],
  [['backend'], ['tpu', 'AUTO', 'gpu', 'wasm;rm -rf /']],
  [
    ['dataset', 'name'],
    ['imagenet', 'mnist/../idx', 'MNIST', ''],
  ],
  [
    ['penalty', 'kind'],
    ['l2', 'Fisher', 'none '],
  ],
  [
    ['schedule', 'lrSchedule'],
    ['linear', 'exp', 'Step'],
  ],
  [
    ['model', 'activation'],
    ['gelu', 'sigmoid', 'RELU'],
  ],
];

interface Mutation {
  kind: string;
  /** Field the message must name; null: the file (syntax and I/O errors). */
  field: string | null;
}
interface Case {
  id: number;
  kinds: string[];
  /** Fields one of which the message must name; empty: the file name. */
  fields: string[];
  /** File contents, or a special file. */
  text?: string | Buffer;
  special?: 'dir' | 'fifo' | 'devzero' | 'missing' | 'oversize';
}

/** One mutation of the object (in place); returns what it did. */
function mutate(o: Obj, r: Rand): Mutation {
  const kind = r.pick([
    'delete',
    'unknown',
    'wrongType',
    'badNumber',
    'badNumber',
    'badNumber',
    'deep',
    'longString',
    'badEnum',
    'traversal',
    'crossField',
  ]);
  switch (kind) {
    case 'delete': {
      const ps = paths(o);
      if (ps.length) setAt(o, r.pick(ps), undefined);
      return { kind, field: null };
    }
    case 'unknown': {
      const where = r.pick([[], ...SECTIONS.map((s) => [s])]);
      const key = r.pick([
        'lerning_rate',
        'activaton',
        'epoch',
        'steps ',
        '__proto__x',
        'Ünïcode',
        'a.b',
        'x'.repeat(r.pick([5, 70, 5000])),
      ]);
      let target = getAt(o, where);
      if (where.length && (!target || typeof target !== 'object' || Array.isArray(target))) {
        setAt(o, where, {});
        target = getAt(o, where);
      }
      (where.length ? (target as Obj) : o)[key] = r.pick([1, 'x', true, null, [1, 2], { a: 1 }]);
      // As messages show a key: identifiers plain, anything else quoted; cut to 60 characters with '…'.
      const shown = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSON.stringify(key);
      const f = shown.length > 60 ? `${shown.slice(0, 59)}…` : shown;
      return { kind, field: where.length ? `${where[0]}.${f}` : f };
    }
    case 'wrongType': {
      const ps = paths(o);
      const p =
        ps.length && r.next() < 0.7
          ? r.pick(ps)
          : r.pick([
              ['seed'],
              ['name'],
              ['checkpoint'],
              ['model'],
              ['schedule', 'milestones'],
              ['model', 'hidden'],
            ]);
      const cur = getAt(o, p);
      const options: Json[] = ['12', 'true', true, null, [], {}, [1], 3.5, -2];
      const v = r.pick(
        options.filter((x) => typeof x !== typeof cur || Array.isArray(x) !== Array.isArray(cur)),
      );
      setAt(o, p, v);
      // An empty array for hidden, or an array for milestones, may be valid; the check below detects it.
      return { kind, field: fieldOf(p) };
    }
    case 'badNumber': {
      const [p, isInt] = r.pick(NUMERIC);
      const vs = [
        '1e400',
        '-1e400',
        '1e308',
        '-1',
        '0',
        '9007199254740993',
        '18446744073709551616',
        '1e21',
        '1' + '0'.repeat(400),
        '-0.0000001',
      ];
      if (isInt) vs.push('0.5', '1.0000001', '1e-7');
      if (!getAt(o, [p[0]]) && p.length > 1) setAt(o, [p[0]], {});
      setAt(o, p, RAW(r.pick(vs)));
      return { kind, field: fieldOf(p) };
    }
    case 'deep': {
      const depth = r.pick([33, 40, 100, 3000, 20000]);
      const open: string[] = [];
      for (let i = 0; i < depth; i++) open.push(r.next() < 0.8 ? '[' : '{"a":');
      const close = open
        .map((x) => (x === '[' ? ']' : '}'))
        .reverse()
        .join('');
      const v = RAW(`${open.join('')}${r.pick(['1', '"x"', '{}'])}${close}`);
      const p = r.pick([
        ['model', 'hidden'],
        ['schedule', 'milestones'],
        ['extra'],
        ['dataset', 'syntheticShape'],
        ['optimizer', 'lr'],
      ]);
      if (!getAt(o, [p[0]]) && p.length > 1) setAt(o, [p[0]], {});
      setAt(o, p, v);
      return { kind, field: fieldOf(p) };
    }
    case 'longString': {
      const n = r.pick([81, 5000, 200_000]);
      const p = r.pick([
        ['name'],
        ['dataset', 'path'],
        ['model', 'arch'],
        ['backend'],
        ['$schema'],
      ]);
      if (p[0] === '$schema' && n <= LIMITS.path) return { kind: 'delete', field: null };
      if (!getAt(o, [p[0]]) && p.length > 1) setAt(o, [p[0]], {});
      setAt(o, p, 'é'.repeat(n));
      return { kind, field: fieldOf(p) };
    }
    case 'badEnum': {
      const [p, vs] = r.pick(ENUMS);
      if (!getAt(o, [p[0]]) && p.length > 1) setAt(o, [p[0]], {});
      setAt(o, p, r.pick(vs));
      return { kind, field: fieldOf(p) };
    }
    case 'traversal': {
      if (r.next() < 0.5) {
        o.name = r.pick([
          '../../etc/passwd',
          '/abs/name',
          'a/b',
          '..',
          'C:\\x',
          'x\u0000y',
          '.hidden',
        ]);
        return { kind, field: 'name' };
      }
      const ds = (
        o.dataset && typeof o.dataset === 'object' && !Array.isArray(o.dataset)
          ? o.dataset
          : (o.dataset = {})
      ) as Obj;
      ds.name = r.pick(['idx', 'cifar10', 'cifar100', 'mnist']);
      delete ds.syntheticClasses;
      delete ds.syntheticShape;
      ds.path = r.pick([
        '../../../../no-such-dir-fl',
        '/no/such/../../dir-fl',
        'no-such-dir-fl/../../../x-fl',
        '~/no-such-fl',
        '\\\\server\\share-fl',
      ]);
      return { kind, field: 'dataset.path' };
    }
    default: {
      // Cross-field rules: each value valid alone.
      const c = r.pick([
        'both',
        'probe',
        'batch',
        'milestones',
        'hidden',
        'synthetic',
        'needsPath',
      ]);
      const sec = (k: string) =>
        o[k] && typeof o[k] === 'object' && !Array.isArray(o[k])
          ? (o[k] as Obj)
          : ((o[k] = {}) as Obj);
      if (c === 'both') Object.assign(sec('schedule'), { epochs: 2, steps: 10 });
      if (c === 'probe') {
        Object.assign(sec('dataset'), { trainSize: 50 });
        Object.assign(sec('fisher'), { probeSize: 100 });
        Object.assign(sec('optimizer'), { batchSize: 10 });
      }
      if (c === 'batch') {
        Object.assign(sec('dataset'), { trainSize: 200 });
        Object.assign(sec('optimizer'), { batchSize: 500 });
        Object.assign(sec('fisher'), { probeSize: 10 });
      }
      if (c === 'milestones') Object.assign(sec('schedule'), { milestones: [0.8, 0.2] });
      if (c === 'hidden') Object.assign(sec('model'), { arch: 'vgg11', hidden: [10] });
      if (c === 'synthetic') Object.assign(sec('dataset'), { name: 'mnist', syntheticClasses: 3 });
      if (c === 'needsPath') {
        Object.assign(sec('dataset'), { name: 'cifar10' });
        delete sec('dataset').path;
      }
      const field = {
        both: 'schedule.steps',
        probe: 'fisher.probeSize',
        batch: 'optimizer.batchSize',
        milestones: 'schedule.milestones',
        hidden: 'model.hidden',
        synthetic: 'dataset.syntheticClasses',
        needsPath: 'dataset.path',
      }[c]!;
      return { kind: `cross:${c}`, field };
    }
  }
}

/** Text-level damage: syntax errors and a BOM. */
function damage(text: string, r: Rand): { kind: string; text: string } {
  const k = r.pick([
    'truncate',
    'truncate',
    'junk',
    'trailingComma',
    'singleQuotes',
    'comment',
    'bomJunk',
    'nan',
    'empty',
    'twoDocs',
  ]);
  switch (k) {
    case 'truncate':
      return { kind: k, text: text.slice(0, r.int(Math.max(1, text.length - 1))) };
    case 'junk': {
      const at = r.int(text.length);
      return {
        kind: k,
        text: text.slice(0, at) + r.pick(['@', '}', ']', ':', '\u0000', 'x']) + text.slice(at),
      };
    }
    case 'trailingComma':
      return { kind: k, text: text.replace(/\}\s*$/, ',}') };
    case 'singleQuotes':
      return { kind: k, text: text.replace(/"/g, "'") };
    case 'comment':
      return { kind: k, text: `// a comment\n${text}` };
    case 'bomJunk':
      return { kind: k, text: `\ufeff\ufeff${text}` };
    case 'nan':
      return { kind: k, text: text.replace(/\{/, '{"seed": NaN, ') };
    case 'empty':
      return { kind: k, text: r.pick(['', '   ', '\n']) };
    default:
      return { kind: k, text: `${text}\n${text}` };
  }
}

function generate(): Case[] {
  const r = rng(SEED);
  const cases: Case[] = [];
  for (let id = 0; id < CASES; id++) {
    const o = structuredClone(r.pick(BASES));
    const kinds: string[] = [];
    const fields: string[] = [];
    const special =
      r.next() < 0.03
        ? r.pick(['dir', 'fifo', 'devzero', 'missing', 'oversize'] as const)
        : undefined;
    if (special) {
      cases.push({ id, kinds: [`file:${special}`], fields: [], special });
      continue;
    }
    const n = r.next() < 0.7 ? 1 : r.pick([2, 3]);
    for (let i = 0; i < n; i++) {
      const m = mutate(o, r);
      kinds.push(m.kind);
      if (m.field) fields.push(m.field);
    }
    let text = unraw(JSON.stringify(o, null, r.pick([0, 2])));
    if (r.next() < 0.12) {
      const d = damage(text, r);
      kinds.push(`syntax:${d.kind}`);
      text = d.text;
      fields.length = 0; // the message names the file (and the line and column)
    }
    if (r.next() < 0.15) {
      kinds.push('bom');
      text = `\ufeff${text}`;
    }
    const asBuffer = r.next() < 0.03;
    if (asBuffer) kinds.push('latin1');
    if (asBuffer && [...text].some((ch) => ch.charCodeAt(0) > 0x7f)) fields.length = 0; // not UTF-8: the message names the file
    cases.push({ id, kinds, fields, text: asBuffer ? Buffer.from(text, 'latin1') : text });
  }
  return cases;
}

/** Where the case's config lives (a special file for I/O cases). */
function materialise(c: Case): string {
  const file = path.join(tmp, 'cases', `case-${c.id}.fisher.json`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  switch (c.special) {
    case 'dir':
      fs.mkdirSync(file, { recursive: true });
      return file;
    case 'fifo':
      if (!fs.existsSync(file)) assert.equal(spawnSync('mkfifo', [file]).status, 0, 'mkfifo');
      return file;
    case 'devzero':
      return '/dev/zero';
    case 'missing':
      return path.join(tmp, 'cases', 'no-such-file.fisher.json');
    case 'oversize':
      fs.writeFileSync(file, `{"name": "big", "$schema": "${'x'.repeat(LIMITS.fileBytes)}"}`);
      return file;
    default:
      fs.writeFileSync(file, c.text!);
      return file;
  }
}

/** Does the validator accept this file as it stands? (Then the case is skipped: it would train.) */
function validAsWritten(c: Case, file: string): boolean {
  if (c.special) return false;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(fs.readFileSync(file));
  } catch {
    return false;
  }
  try {
    const cfg = parseConfig(text, file);
    // A valid config whose dataset folder does not exist still fails (before any work) and is kept.
    return !(
      cfg.dataset.path !== undefined &&
      cfg.dataset.name !== 'synthetic' &&
      !fs.existsSync(path.resolve(path.dirname(file), cfg.dataset.path))
    );
  } catch (e) {
    assert.ok(
      e instanceof ConfigError,
      `the validator throws only ConfigError, got ${(e as Error)?.stack}`,
    );
    return false;
  }
}

const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function check(
  c: Case,
  file: string,
  code: number,
  stdout: string,
  stderr: string,
  how: string,
): void {
  const ctx = `${how} case ${c.id} [${c.kinds.join(', ')}] (${file}):\n${stderr.slice(0, 1500)}`;
  assert.equal(code, 2, `exit 2 expected, got ${code}: ${ctx}`);
  assert.ok(!STACK.test(stderr) && !STACK.test(stdout), `no stack trace: ${ctx}`);
  assert.ok(stderr.startsWith('fisher-lens: '), `message starts with "fisher-lens: ": ${ctx}`);
  assert.ok(
    stderr.length < 4000,
    `short message (${stderr.length} characters): ${ctx.slice(0, 300)}`,
  );
  if (c.fields.length) {
    assert.ok(
      c.fields.some((f) => new RegExp(`(^|[\\s(])${escapeRe(f)}([.:,\\s)]|$)`, 'm').test(stderr)),
      `names one of ${JSON.stringify(c.fields)}: ${ctx}`,
    );
  } else {
    assert.ok(stderr.includes(file), `names the file: ${ctx}`);
  }
  assert.ok(!fs.existsSync(runsDir), `nothing written: ${runsDir} exists after ${ctx}`);
}

test(
  `${CASES} mutated configs: exit 2, the field named, no stack trace, nothing written (in-process; ${SPAWNED} also as real processes)`,
  { timeout: 120_000 },
  async () => {
    const t0 = Date.now();
    const cases = generate();
    const tested: { c: Case; file: string; stderr: string }[] = [];
    let skipped = 0;
    const kinds = new Map<string, number>();
    for (const c of cases) {
      const file = materialise(c);
      if (validAsWritten(c, file)) {
        skipped++;
        continue;
      }
      let stdout = '';
      let stderr = '';
      const code = await runCli(['node', 'fisher-lens', 'train', file, '--runs-dir', runsDir], {
        stdout: (t) => void (stdout += t),
        stderr: (t) => void (stderr += t),
      });
      check(c, file, code, stdout, stderr, 'in-process');
      tested.push({ c, file, stderr });
      for (const k of c.kinds) kinds.set(k.split(':')[0], (kinds.get(k.split(':')[0]) ?? 0) + 1);
    }
    assert.ok(
      tested.length >= 500,
      `at least 500 invalid configs tested (got ${tested.length}, ${skipped} valid and skipped)`,
    );
    for (const k of [
      'unknown',
      'wrongType',
      'badNumber',
      'deep',
      'longString',
      'badEnum',
      'traversal',
      'cross',
      'syntax',
      'bom',
      'file',
    ]) {
      assert.ok((kinds.get(k) ?? 0) >= 3, `mutation kind ${k} exercised (${kinds.get(k) ?? 0})`);
    }
    const inProcessMs = Date.now() - t0;

    // The real program on an evenly spread sample: same exit code, same message.
    const step = Math.floor(tested.length / SPAWNED);
    for (let i = 0; i < SPAWNED; i++) {
      const { c, file, stderr } = tested[i * step];
      const r = spawnSync(process.execPath, [bin, 'train', file, '--runs-dir', runsDir], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      check(c, file, r.status ?? -1, r.stdout, r.stderr, 'spawned');
      assert.equal(
        r.stderr,
        stderr,
        `case ${c.id}: the real program prints what the in-process run printed`,
      );
    }
    console.log(
      `# fuzz: ${cases.length} mutated configs, ${tested.length} invalid and checked, ${skipped} valid and skipped; ` +
        `kinds ${JSON.stringify(Object.fromEntries(kinds))}; in-process ${inProcessMs} ms, total ${Date.now() - t0} ms`,
    );
  },
);
