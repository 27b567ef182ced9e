// The committed PyTorch float64 reference values (test/fixtures/torch/*.json) that the maths tests
// read instead of running Python: every one decodes and is read by a test; and, where PyTorch is
// installed (CI installs python3-torch), `npm run fixtures:torch -- --check` regenerates them from
// test/fixtures/torch_ref.py and finds them current.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  FIXTURE_DIR,
  decodeResults,
  readFixture,
  suitesIn,
  torchUnavailable,
} from '../fixtures/torchFixtures';

const root = path.join(__dirname, '..', '..');
const unitDir = __dirname;

describe('committed PyTorch reference fixtures', () => {
  test('one fixture per suite the tests read, each decoding to numbers', () => {
    const wanted = fs
      .readdirSync(unitDir)
      .filter((f) => f.endsWith('.test.ts'))
      .flatMap((f) => suitesIn(fs.readFileSync(path.join(unitDir, f), 'utf8')))
      .sort();
    assert.ok(wanted.length >= 4, `suites found: ${wanted}`);
    const present = fs
      .readdirSync(FIXTURE_DIR)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
    assert.deepEqual(present, wanted, 'test/fixtures/torch/*.json vs torchReference() suites');
    for (const s of present) {
      const f = readFixture(path.join(FIXTURE_DIR, `${s}.json`));
      const groups = Object.entries(f.groups);
      assert.ok(groups.length > 0, `${s}: no groups`);
      for (const [g, cases] of groups)
        for (const c of cases) {
          assert.match(c.inputs.sha256, /^[0-9a-f]{64}$/, `${s}/${g}/${c.id}`);
          const text = JSON.stringify(decodeResults(c.results));
          assert.ok(!/f32|null/.test(text), `${s}/${g}/${c.id}: undecoded or non-finite values`);
        }
    }
  });

  const skip = torchUnavailable();
  test(
    'they are current: regenerated from torch_ref.py, the same inputs give the same values (rel ≤ 1e-6)',
    {
      skip: skip ? `${skip}. The maths tests read the committed fixtures without it.` : false,
      timeout: 600_000,
    },
    () => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(root, 'scripts', 'torch-fixtures.ts'), '--check'],
        { cwd: root, env, encoding: 'utf8', timeout: 580_000, maxBuffer: 64 << 20 },
      );
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
      assert.equal(r.status, 0, `npm run fixtures:torch -- --check failed:\n${out.slice(-6000)}`);
      assert.match(out, /fixtures current/);
    },
  );
});
