/**
 * Finding Python and the PyTorch engine: the interpreter (`--python`, else FISHER_LENS_PYTHON, else `python3` on
 * the PATH), the engine's sources (python/fisher_lens_engine in the repository, dist/python/ in the packaged
 * extension), and one probe process per interpreter (`python -m fisher_lens_engine.doctor`) that says what torch
 * can do here. Which torch backends are usable, and why not, follows from the probe.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TORCH_BACKENDS } from '../../shared/config';
import { pythonInfoProblems, type PythonInfo } from './protocol';

export type TorchBackend = (typeof TORCH_BACKENDS)[number];
/** The device a torch backend runs on. */
export type TorchDevice = 'cuda' | 'mps' | 'cpu';

/** The interpreter to use: the explicit one, else FISHER_LENS_PYTHON, else `python3` on the PATH. */
export function pythonCommand(explicit?: string): string {
  return explicit || process.env.FISHER_LENS_PYTHON || 'python3';
}

/**
 * The folder that holds `fisher_lens_engine/` (PYTHONPATH for the child): the first `python/` beside or above this
 * script — dist/python/ in the packaged extension (copied by `scripts/build.mjs --production`), the repository's
 * python/ in development (dist/cli.js and the TypeScript sources alike). Null when it is not there.
 */
export function engineSourceDir(): string | null {
  let d = __dirname;
  for (let i = 0; i < 6; i++) {
    const c = path.join(d, 'python');
    if (fs.existsSync(path.join(c, 'fisher_lens_engine', '__main__.py'))) return c;
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return null;
}

/** The environment of an engine child: PYTHONPATH starts with the engine's folder; no bytecode is written there. */
export function engineEnv(dir: string): NodeJS.ProcessEnv {
  const prev = process.env.PYTHONPATH;
  return {
    ...process.env,
    PYTHONPATH: prev ? `${dir}${path.delimiter}${prev}` : dir,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
  };
}

export interface PythonProbe {
  /** The interpreter as given (a command on the PATH or a path). */
  python: string;
  /** What the probe found, when it ran. */
  info: PythonInfo | null;
  /** Why torch cannot be used at all (no Python, no torch, old torch, …); null when the CPU works. */
  problem: string | null;
}

const probes = new Map<string, PythonProbe>();

const lastLine = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter((l) => l.trim())
    .pop() ?? '';

/** Probe `python` once per process (cached): one child, `python -m fisher_lens_engine.doctor`. */
export function probePython(python: string): PythonProbe {
  const cached = probes.get(python);
  if (cached) return cached;
  const r = probeUncached(python);
  probes.set(python, r);
  return r;
}

function probeUncached(python: string): PythonProbe {
  const dir = engineSourceDir();
  if (!dir)
    return {
      python,
      info: null,
      problem:
        "the PyTorch engine's sources (python/fisher_lens_engine) are missing from this installation",
    };
  const r = spawnSync(python, ['-m', 'fisher_lens_engine.doctor'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: engineEnv(dir),
    maxBuffer: 1 << 20,
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? `Python interpreter ${JSON.stringify(python)} was not found${python.includes(path.sep) ? '' : ' on the PATH'} (install Python 3 with PyTorch, or pass --python / set FISHER_LENS_PYTHON)`
        : code === 'ETIMEDOUT'
          ? `${JSON.stringify(python)} did not answer within 120 s`
          : `${JSON.stringify(python)} could not be started (${code ?? r.error.message})`;
    return { python, info: null, problem };
  }
  let info: unknown;
  try {
    info = JSON.parse(lastLine(r.stdout ?? '') || 'null');
  } catch {
    info = null;
  }
  if (!info || pythonInfoProblems(info).length) {
    return {
      python,
      info: null,
      problem: `${JSON.stringify(python)} is not a usable Python 3 (the probe exited ${r.status ?? r.signal}${lastLine(r.stderr ?? '') ? `: ${lastLine(r.stderr ?? '').slice(0, 300)}` : ''})`,
    };
  }
  const i = info as PythonInfo;
  return {
    python,
    info: i,
    problem: i.torchError ?? (i.cpuOk ? null : 'torch did not run a CPU operation'),
  };
}

/** Whether `backend` can run with this probe: its device, or the reason it cannot. */
export function torchBackendStatus(
  backend: TorchBackend,
  p: PythonProbe,
): { ok: true; device: TorchDevice; detail: string } | { ok: false; reason: string } {
  if (p.problem || !p.info) return { ok: false, reason: p.problem ?? 'no probe' };
  const i = p.info;
  const base = `torch ${i.torch} on Python ${i.python} (${i.executable})`;
  const cuda = () =>
    i.cuda.available
      ? ({
          ok: true,
          device: 'cuda',
          detail: `${base}, CUDA ${i.cuda.version}: ${i.cuda.devices.join(', ')}`,
        } as const)
      : ({ ok: false, reason: i.cuda.reason ?? 'CUDA is not available' } as const);
  const mps = () =>
    i.mps.available
      ? ({ ok: true, device: 'mps', detail: `${base}, Apple MPS` } as const)
      : ({ ok: false, reason: i.mps.reason ?? 'MPS is not available' } as const);
  const cpu = { ok: true, device: 'cpu', detail: `${base}, ${i.threads} threads` } as const;
  switch (backend) {
    case 'torch-cuda':
      return cuda();
    case 'torch-mps':
      return mps();
    case 'torch-cpu':
      return cpu;
    case 'torch': {
      const c = cuda();
      if (c.ok) return c;
      const m = mps();
      return m.ok ? m : cpu;
    }
  }
}
