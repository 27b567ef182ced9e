/**
 * `node --import tsx scripts/detector-corpus.ts [--dataset mnist|fashion-mnist|synthetic] [--sizes default,short,tiny]
 * [--seeds 0,1] [--presets large-lr,small-lr,small-lr-fp] [--out .detector-corpus]`
 * (sizes: default, short, tiny, e2e)
 *
 * Trains the labelled preset runs of the detector corpus (ordinary runs, through the CLI, into a git-ignored folder;
 * a run already there is kept), then `bench/detectorCorpus.ts` compacts them with the reproduction's committed runs
 * into `bench/detector-corpus.json`. Sizes: `default` (the preset as shipped), `short` (the preset on 4096 examples,
 * 200 steps), `tiny` (the editor end-to-end test's overrides: MLP 64, 1024 examples, 120 steps, probe 32 every 5).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deepMerge } from '../src/shared/configDiff';
import { PRESETS, presetConfig } from '../src/shared/presets';

export const SIZES: Record<string, Record<string, unknown>> = {
  default: {},
  short: { dataset: { trainSize: 4096 }, schedule: { steps: 200 } },
  tiny: {
    dataset: { trainSize: 1024, testSize: 256 },
    schedule: { steps: 120 },
    model: { arch: 'mlp', hidden: [64] },
    fisher: { every: 5, probeSize: 32 },
    evalEvery: 20,
  },
  /** The end-to-end test's size: `tiny` with the preset's probe of 128 (a probe of 32 is too noisy to tell). */
  e2e: {
    dataset: { trainSize: 1024, testSize: 256 },
    schedule: { steps: 120 },
    model: { arch: 'mlp', hidden: [64] },
    fisher: { every: 5, probeSize: 128 },
    evalEvery: 20,
  },
};

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function main() {
  const dataset = arg('dataset', 'mnist');
  const out = path.resolve(arg('out', '.detector-corpus'));
  const sizes = arg('sizes', 'default,short,tiny').split(',');
  const seeds = arg('seeds', '0,1').split(',').map(Number);
  const presets = arg('presets', 'large-lr,small-lr,small-lr-fp').split(',');
  const runs = path.join(out, 'runs');
  const cfgDir = path.join(out, 'configs');
  fs.mkdirSync(cfgDir, { recursive: true });
  for (const size of sizes)
    for (const id of presets)
      for (const seed of seeds) {
        const preset = PRESETS.find((p) => p.id === id);
        if (!preset) throw new Error(`--presets: no preset ${id}`);
        const runId = `${dataset}-${id}-${size}-s${seed}`;
        if (fs.existsSync(path.join(runs, runId, 'summary.json'))) continue;
        fs.rmSync(path.join(runs, runId), { recursive: true, force: true });
        const over = deepMerge(SIZES[size], { seed, dataset: { name: dataset } });
        const cfg = presetConfig(preset, over);
        cfg.name = runId;
        const file = path.join(cfgDir, `${runId}.fisher.json`);
        fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
        const t0 = Date.now();
        const r = spawnSync(
          process.execPath,
          ['bin/fisher-lens.js', 'train', file, '--runs-dir', runs, '--run-id', runId, '--quiet'],
          { stdio: ['ignore', 'inherit', 'inherit'] },
        );
        console.log(`${runId}: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }
}
main();
