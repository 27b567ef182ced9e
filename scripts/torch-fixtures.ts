// Regenerates the committed PyTorch float64 reference values of the maths tests
// (test/fixtures/torch/<suite>.json) by running every test file that reads them
// (torchReference('<suite>', …) in test/unit/*.test.ts) in record mode: each reference call runs
// test/fixtures/torch_ref.py on the inputs the test builds, and the tests still check their values.
// Needs PyTorch (FISHER_LENS_PYTHON, else /usr/bin/python3).
//
//   npm run fixtures:torch               rewrite test/fixtures/torch/*.json (only if every test passes)
//   npm run fixtures:torch -- --check    regenerate into a temp folder and compare with the committed
//                                        ones: same cases, same inputs, values within 1e-6 (exit 1 if not)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as prettier from 'prettier';
import {
  FIXTURE_DIR,
  RECORD_ENV,
  inputsDiffer,
  readFixture,
  resultsDiffer,
  suitesIn,
  torchUnavailable,
  type FixtureFile,
} from '../test/fixtures/torchFixtures';

const TOL = 1e-6;
const root = path.dirname(__dirname);
const check = process.argv.includes('--check');

function compare(name: string, got: FixtureFile, want: FixtureFile): string[] {
  const out: string[] = [];
  const groups = [...new Set([...Object.keys(want.groups), ...Object.keys(got.groups)])];
  for (const g of groups) {
    const [a, b] = [got.groups[g], want.groups[g]];
    if (!a || !b) {
      out.push(`${name} group '${g}': only in the ${a ? 'regenerated' : 'committed'} fixture`);
      continue;
    }
    if (a.map((c) => c.id).join('\n') !== b.map((c) => c.id).join('\n')) {
      out.push(`${name} group '${g}': cases ${a.map((c) => c.id)} vs ${b.map((c) => c.id)}`);
      continue;
    }
    a.forEach((c, i) => {
      const at = `${name} group '${g}' case '${c.id}'`;
      const why = inputsDiffer(c.inputs, b[i].inputs);
      if (why) out.push(`${at}: inputs differ: ${why}`);
      else out.push(...resultsDiffer(c.results, b[i].results, TOL).map((d) => `${at}: ${d}`));
    });
  }
  return out;
}

async function main(): Promise<number> {
  const why = torchUnavailable();
  if (why) {
    console.error(`fixtures:torch: ${why}`);
    return 2;
  }
  const unit = path.join(root, 'test', 'unit');
  const files: string[] = [];
  const suites: string[] = [];
  for (const f of fs.readdirSync(unit).sort()) {
    if (!f.endsWith('.test.ts')) continue;
    const s = suitesIn(fs.readFileSync(path.join(unit, f), 'utf8'));
    if (s.length) {
      files.push(path.join(unit, f));
      suites.push(...s);
    }
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-torch-fixtures-'));
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, [RECORD_ENV]: tmp };
    delete env.NODE_TEST_CONTEXT; // when run from a test: a top-level test run of its own
    console.log(`fixtures:torch: recording ${suites.join(', ')} (${files.length} test files)`);
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', ...files],
      { stdio: 'inherit', cwd: root, env },
    );
    if (r.status !== 0) {
      console.error(
        `fixtures:torch: the tests failed while recording (exit ${r.status}); nothing written`,
      );
      return 1;
    }
    const missing = suites.filter((s) => !fs.existsSync(path.join(tmp, `${s}.json`)));
    if (missing.length) {
      console.error(`fixtures:torch: no reference recorded for ${missing.join(', ')}`);
      return 1;
    }
    if (check) {
      const diffs: string[] = [];
      for (const s of suites) {
        const committed = path.join(FIXTURE_DIR, `${s}.json`);
        if (!fs.existsSync(committed)) diffs.push(`${s}.json: not committed`);
        else
          diffs.push(
            ...compare(
              `${s}.json`,
              readFixture(path.join(tmp, `${s}.json`)),
              readFixture(committed),
            ),
          );
      }
      const extra = fs
        .readdirSync(FIXTURE_DIR)
        .filter((f) => f.endsWith('.json') && !suites.includes(f.slice(0, -5)));
      diffs.push(...extra.map((f) => `${f}: committed, but no test reads it`));
      if (diffs.length) {
        console.error(
          `fixtures:torch --check: test/fixtures/torch is not current:\n  ${diffs.join('\n  ')}`,
        );
        console.error('Regenerate with: npm run fixtures:torch');
        return 1;
      }
      console.log(
        `fixtures:torch --check: ${suites.length} fixtures current (inputs identical, values within ${TOL})`,
      );
      return 0;
    }
    fs.mkdirSync(FIXTURE_DIR, { recursive: true });
    for (const f of fs.readdirSync(FIXTURE_DIR))
      if (f.endsWith('.json') && !suites.includes(f.slice(0, -5)))
        fs.rmSync(path.join(FIXTURE_DIR, f));
    for (const s of suites) {
      const dest = path.join(FIXTURE_DIR, `${s}.json`);
      const options = (await prettier.resolveConfig(dest)) ?? {};
      const text = await prettier.format(fs.readFileSync(path.join(tmp, `${s}.json`), 'utf8'), {
        ...options,
        filepath: dest,
      });
      fs.writeFileSync(dest, text);
      console.log(
        `fixtures:torch: wrote ${path.relative(root, dest)} (${(text.length / 1024).toFixed(0)} KiB)`,
      );
    }
    return 0;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
