/** Shared by the torch integration tests: a Python with a working PyTorch, or the reason there is none. */
import { probePython } from '../../src/trainer/torch/python';

/** The first of FISHER_LENS_PYTHON, python3, /usr/bin/python3 whose torch works; else why none does. */
export function torchPython(): { python: string | null; skip: string | false } {
  const tried: string[] = [];
  for (const p of [process.env.FISHER_LENS_PYTHON, 'python3', '/usr/bin/python3']) {
    if (!p || tried.some((t) => t.startsWith(`${p}:`))) continue;
    const r = probePython(p);
    if (!r.problem) return { python: p, skip: false };
    tried.push(`${p}: ${r.problem}`);
  }
  return {
    python: null,
    skip: `PyTorch is not installed (apt-get install python3-torch, or set FISHER_LENS_PYTHON): ${tried.join('; ')}`,
  };
}

/** |a − b| / max(|a|, |b|, tiny). */
export const rel = (a: number, b: number) =>
  Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-30);
