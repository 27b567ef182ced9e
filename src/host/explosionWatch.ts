/**
 * The Fisher explosion warning: when the detector fires on a run this window is running (a `detector` event
 * of kind `explosion` arrives while we follow it), one warning per run naming it and the size of the rise,
 * with "Open Monitor" and "Rerun with Fisher Penalty".
 *
 * Run folders are untrusted (a cloned repository can carry a crafted one that claims to be `running` on
 * another host with a fresh explosion event), so a warning is raised only
 * - in a trusted workspace,
 * - for a run this window launched and whose trainer is running now (`isLocalLive`),
 * - for an event neither stale (older than {@link FRESH_MS}) nor from the future (beyond {@link SKEW_MS}),
 * and the run's name is shown with no link syntax left in it.
 */
import * as vscode from 'vscode';
import type { DetectorEvent } from '../shared/protocol';
import { fmt, isFiniteNumber, times } from '../shared/format';
import { DisposableOwner } from './dispose';
import { log } from './log';
import type { RunsModel } from './runsModel';
import { noLinks } from './sanitize';

/** An event older than this (ms) is not news: no warning. */
export const FRESH_MS = 2 * 60_000;
/** An event this far (ms) in the future is not believed: no warning. */
export const SKEW_MS = 60_000;

export interface ExplosionWatchOptions {
  /** Whether `runId` is a run this window launched whose trainer runs now. Without it, no run qualifies. */
  isLocalLive?: (runId: string) => boolean;
  /** Clock (ms since the epoch). */
  now?: () => number;
}

export class ExplosionWatch extends DisposableOwner {
  private readonly warned = new Set<string>();

  constructor(
    private readonly store: Pick<RunsModel, 'onEvents' | 'get'>,
    private readonly actions: {
      openMonitor(runId: string): void;
      rerunWithPenalty(runId: string): void;
    },
    private readonly opts: ExplosionWatchOptions = {},
  ) {
    super();
    this.register(
      store.onEvents(({ runId, events }) => {
        for (const e of events) {
          if (e.type !== 'detector' || e.kind !== 'explosion') continue;
          const why = this.refusal(runId, e);
          if (why) {
            log.debug(`${runId}: no explosion warning: ${why}`);
            continue;
          }
          void this.warn(runId, e);
        }
      }),
    );
  }

  /** Why no warning is raised for this event (null: raise it). */
  private refusal(runId: string, e: DetectorEvent): string | null {
    if (!vscode.workspace.isTrusted) return 'untrusted workspace';
    const r = this.store.get(runId);
    if (!r || r.state !== 'running' || r.stale)
      return `run is ${r ? (r.stale ? 'stale' : r.state) : 'not listed'}`;
    if (!(this.opts.isLocalLive?.(runId) ?? false)) return 'not a run this window is running';
    const now = this.opts.now?.() ?? Date.now();
    if (!Number.isFinite(e.t) || e.t > now + SKEW_MS) return 'event time in the future';
    if (now - e.t > FRESH_MS) return 'event is old';
    return null;
  }

  /**
   * The warning text, e.g. "Fisher explosion in small-lr: Tr(F) rose 4.2× over its post-warm-up minimum
   * (step 45)." Everything comes from the detector's event (its step, value and rise), never recomputed.
   */
  message(runId: string, e: DetectorEvent): string {
    const name = noLinks(this.store.get(runId)?.name ?? runId, 100);
    const what = isFiniteNumber(e.rise)
      ? `Tr(F) rose ${times(e.rise, 2)} over its post-warm-up minimum`
      : `Tr(F) reached ${fmt(e.value)}`;
    return `Fisher explosion in ${name}: ${what} (step ${e.step}).`;
  }

  private async warn(runId: string, e: DetectorEvent) {
    if (this.warned.has(runId)) return;
    this.warned.add(runId);
    const open = 'Open Monitor';
    const rerun = 'Rerun with Fisher Penalty';
    const choice = await vscode.window.showWarningMessage(this.message(runId, e), open, rerun);
    if (choice === open) this.actions.openMonitor(runId);
    else if (choice === rerun) this.actions.rerunWithPenalty(runId);
  }
}
