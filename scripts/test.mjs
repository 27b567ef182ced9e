// The test command: plain Node's test runner over TypeScript (tsx), unit then integration. --test-force-exit:
// a stray handle (e.g. a file watcher closing asynchronously) must never hang CI after every test has finished.
// Usage: node scripts/test.mjs [unit|integration|slurm] [file filters...]
//        (slurm: npm run test:slurm, a sweep on a real single-node Slurm started by the test; not in the default)
//        node scripts/test.mjs webgpu   (npm run test:webgpu: the maths tests of test/unit/core* with
//        FISHER_LENS_TEST_BACKEND=webgpu, then test/webgpu/; skipped, with the reason, without a WebGPU adapter)
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const args = process.argv.slice(2);
if (args[0] === 'webgpu') process.exit(webgpuSuite(args.slice(1)));
const suites = args.filter((a) => a === 'unit' || a === 'integration' || a === 'slurm');
const filters = args.filter((a) => !suites.includes(a));
const files = [];
for (const suite of suites.length ? suites : ['unit', 'integration']) {
  const dir = path.join(root, 'test', suite);
  if (!fs.existsSync(dir)) continue;
  for (const f of fs.readdirSync(dir).sort()) {
    if (f.endsWith('.test.ts') && (!filters.length || filters.some((x) => f.includes(x))))
      files.push(path.join(dir, f));
  }
}
if (!files.length) {
  console.error('no test files matched');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(r.status ?? 1);

/** The maths tests on webgpu (every core test file that follows FISHER_LENS_TEST_BACKEND), then test/webgpu/. */
function webgpuSuite(filters) {
  const pick = (dir, re) =>
    fs
      .readdirSync(path.join(root, 'test', dir))
      .filter((f) => re.test(f) && (!filters.length || filters.some((x) => f.includes(x))))
      .sort()
      .map((f) => path.join(root, 'test', dir, f));
  const unit = pick('unit', /^core.*\.test\.ts$/).filter((f) =>
    fs.readFileSync(f, 'utf8').includes('TEST_BACKEND'),
  );
  const own = pick('webgpu', /\.test\.ts$/);
  const probe = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      "console.log(require('./test/webgpu/webgpuProbe').webgpuUnavailable() ?? 'ok')",
    ],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const why =
    probe.status === 0 ? (probe.stdout ?? '').trim().split('\n').pop() : 'the probe failed';
  if (why !== 'ok') {
    // CI sets FISHER_LENS_WEBGPU_REQUIRED=1 once lavapipe is set up: no adapter then is a failure.
    const required = process.env.FISHER_LENS_WEBGPU_REQUIRED === '1';
    console.log(
      `webgpu tests ${required ? 'FAILED (FISHER_LENS_WEBGPU_REQUIRED=1)' : 'skipped'}: ${why}`,
    );
    return required ? 1 : 0;
  }
  const env = { ...process.env, FISHER_LENS_TEST_BACKEND: 'webgpu' };
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-force-exit', ...unit, ...own],
    { stdio: 'inherit', cwd: root, env },
  );
  return r.status ?? 1;
}
