/**
 * Regression: the trainer's events for a fixed config and seed, compared field by field with values recorded
 * BEFORE the training loop was restructured (issue 8), by the release build of that time (`golden/*.expected.json`:
 * the `--json` stream and summary.json, without times, pids, hosts, throughput and the version). Three configs
 * cover the Fisher penalty with label noise on MNIST, a Tr(F_i) detector event, and divergence with the GPx
 * penalty; all on the `cpu` backend, which is deterministic. Numbers must agree to 1e-6 relative (they are
 * identical on the machine that recorded them; the slack only absorbs another CPU's last-bit differences).
 * events.jsonl must be the same events in the same order, with only `step` lines thinned by the writer.
 *
 * Do not regenerate the fixtures to make this pass: a difference is a behaviour change of the trainer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
// The CLI from source (tsx), not dist/: the comparison is about the trainer, not the bundle.
const cliSource = path.join(root, 'src', 'cli.ts');
const golden = path.join(__dirname, 'golden');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fl-golden-'));

/** Fields that differ between two runs of the same config (times, process, machine, release). */
const VOLATILE = new Set([
  't',
  'pid',
  'host',
  'ms',
  'examplesPerSec',
  'wallSeconds',
  'version',
  'backendRejections',
  // Recorded after these fixtures; its content is checked below.
  'engine',
]);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function normalize(v: Json): Json {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: { [k: string]: Json } = {};
    for (const k of Object.keys(v).sort()) if (!VOLATILE.has(k)) out[k] = normalize(v[k]);
    return out;
  }
  return v;
}

/** Differences between `a` and `b` (numbers to 1e-6 relative), as `path: a ≠ b` lines. */
function diff(a: Json, b: Json, at: string, out: string[]): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (a !== b && !(Math.abs(a - b) <= 1e-6 * Math.max(Math.abs(a), Math.abs(b))))
      out.push(`${at}: ${a} ≠ ${b}`);
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys)
      diff(
        (a as Record<string, Json>)[k] ?? null,
        (b as Record<string, Json>)[k] ?? null,
        `${at}.${k}`,
        out,
      );
    if (Array.isArray(a) !== Array.isArray(b)) out.push(`${at}: array vs object`);
    return;
  }
  if (a !== b) out.push(`${at}: ${JSON.stringify(a)} ≠ ${JSON.stringify(b)}`);
}

const lines = (text: string): Json[] =>
  text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => normalize(JSON.parse(l) as Json));

for (const name of ['mnist-fp-noise', 'synthetic-trfi', 'diverges-gpx']) {
  test(
    `events of ${name} match the values recorded before the loop was restructured`,
    { timeout: 120_000 },
    () => {
      const expected = JSON.parse(
        fs.readFileSync(path.join(golden, `${name}.expected.json`), 'utf8'),
      ) as { summary: Json; events: Json[] };
      const runsDir = path.join(tmp, 'runs');
      const argv = [
        'node',
        'fisher-lens',
        'train',
        path.join(golden, `${name}.fisher.json`),
        '--runs-dir',
        runsDir,
        '--run-id',
        name,
        '--json',
      ];
      const r = spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `require(${JSON.stringify(cliSource)}).main(${JSON.stringify(argv)})`,
        ],
        { cwd: root, encoding: 'utf8', timeout: 110_000 },
      );
      const wantCode = name === 'diverges-gpx' ? 3 : 0;
      assert.equal(r.status, wantCode, r.stderr.slice(-2000));

      const header = JSON.parse(r.stdout.split('\n')[0]) as { engine?: { name: string } };
      assert.equal(header.engine?.name, 'tfjs', 'the header names the engine');
      const streamed = lines(r.stdout);
      const problems: string[] = [];
      assert.equal(streamed.length, expected.events.length, 'number of streamed events');
      streamed.forEach((e, i) =>
        diff(
          e,
          expected.events[i],
          `event ${i + 1} (${(expected.events[i] as { type: string }).type})`,
          problems,
        ),
      );

      // events.jsonl: the same events in order; the writer may only leave out `step` lines.
      const written = lines(fs.readFileSync(path.join(runsDir, name, 'events.jsonl'), 'utf8'));
      let j = 0;
      for (const [i, e] of written.entries()) {
        const key = JSON.stringify([
          (e as { type: string }).type,
          (e as { step?: number }).step ?? null,
          (e as { state?: string }).state ?? null,
          (e as { kind?: string }).kind ?? null,
        ]);
        while (j < expected.events.length) {
          const x = expected.events[j] as {
            type: string;
            step?: number;
            state?: string;
            kind?: string;
          };
          if (JSON.stringify([x.type, x.step ?? null, x.state ?? null, x.kind ?? null]) === key)
            break;
          if (x.type !== 'step')
            problems.push(`events.jsonl line ${i + 1}: ${x.type} at step ${x.step} is missing`);
          j++;
        }
        if (j === expected.events.length) {
          problems.push(`events.jsonl line ${i + 1}: unexpected ${key}`);
          break;
        }
        diff(e, expected.events[j], `events.jsonl line ${i + 1}`, problems);
        j++;
      }

      const summary = normalize(
        JSON.parse(fs.readFileSync(path.join(runsDir, name, 'summary.json'), 'utf8')) as Json,
      );
      diff(summary, expected.summary, 'summary.json', problems);
      assert.deepEqual(problems.slice(0, 20), [], `${problems.length} differences`);
    },
  );
}
