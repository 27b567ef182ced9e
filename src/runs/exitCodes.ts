/** Exit codes of `fisher-lens` (train, and the other commands), and the one rule from a run's end state to its code. */
import type { RunState } from '../shared/protocol';

/** 0 completed/stopped, 1 failed (or an unexpected error), 2 invalid input (nothing written), 3 diverged. */
export const EXIT_CODES = { ok: 0, failed: 1, usage: 2, diverged: 3 } as const;

/** The exit code of `fisher-lens train` for a run that ended in `state`. */
export function exitCodeForState(state: RunState): number {
  return state === 'failed'
    ? EXIT_CODES.failed
    : state === 'diverged'
      ? EXIT_CODES.diverged
      : EXIT_CODES.ok;
}
