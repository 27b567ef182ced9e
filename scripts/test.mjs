// The test command: plain Node's test runner over TypeScript (tsx), unit then integration. --test-force-exit:
// a stray handle (e.g. a file watcher closing asynchronously) must never hang CI after every test has finished.
// Usage: node scripts/test.mjs [unit|integration] [file filters...]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const args = process.argv.slice(2);
const suites = args.filter((a) => a === 'unit' || a === 'integration');
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
