/** Learning-rate schedules (pure). */
import type { RunConfig } from '../shared/config';

/** Learning rate at `step` (0-based) of `total` steps. */
export function learningRate(cfg: RunConfig, step: number, total: number): number {
  const { lr } = cfg.optimizer;
  const s = cfg.schedule;
  const frac = total > 0 ? step / total : 0;
  switch (s.lrSchedule) {
    case 'constant':
      return lr;
    case 'step': {
      let out = lr;
      for (const m of s.milestones) if (frac >= m) out *= s.gamma;
      return out;
    }
    case 'cosine':
      return 0.5 * lr * (1 + Math.cos(Math.PI * Math.min(1, frac)));
  }
}
