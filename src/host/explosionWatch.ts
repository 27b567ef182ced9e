/**
 * The Fisher explosion warning: when the detector fires on a run this window is running (a `detector` event
 * of kind `explosion` arrives while we follow it), one warning per run naming it, the size of the rise and what
 * the early peak was compared with, with "Open Monitor" and, where it applies, "Rerun with Fisher Penalty".
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
import type { RunConfig } from '../shared/config';
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
   * The warning text, e.g. "Fisher explosion in small-lr: early peak 118 at step 80 is 1.42× its Tr(F) at
   * initialisation (step 0) 83.0." Everything comes from the detector's event (peak, rise, what it was compared
   * with), never recomputed; the comparison's wording comes from the run folder and is shown without link syntax.
   */
  message(runId: string, e: DetectorEvent): string {
    const name = noLinks(this.store.get(runId)?.name ?? runId, 100);
    const at = isFiniteNumber(e.peakStep) ? ` at step ${e.peakStep}` : '';
    const against =
      typeof e.baseLabel === 'string' && e.baseLabel
        ? ` ${noLinks(e.baseLabel, 200)}${isFiniteNumber(e.base) ? ` ${fmt(e.base)}` : ''}`
        : e.basis === 'reference'
          ? ' the reference run'
          : ' its Tr(F) at initialisation';
    const what = isFiniteNumber(e.rise)
      ? `early peak ${fmt(e.value)}${at} is ${times(e.rise, 2)}${against}`
      : `early Tr(F) peak ${fmt(e.value)}${at}`;
    return `Fisher explosion in ${name}: ${what} (detected at step ${e.step}).`;
  }

  /** Whether "Rerun with Fisher Penalty" applies to the run (null: it does; else why not). */
  async rerunProblem(runId: string): Promise<string | null> {
    const config = this.store.get(runId)?.config;
    if (!config) return 'its config.json is missing';
    const { fisherPenaltyRerunProblem } = await import('../shared/presets');
    return fisherPenaltyRerunProblem(config as unknown as RunConfig);
  }

  private async warn(runId: string, e: DetectorEvent) {
    if (this.warned.has(runId)) return;
    this.warned.add(runId);
    const open = 'Open Monitor';
    const rerun = 'Rerun with Fisher Penalty';
    // Offered only where it applies (not on a run that already has a penalty) and yields a runnable config.
    const buttons = (await this.rerunProblem(runId)) === null ? [open, rerun] : [open];
    const choice = await vscode.window.showWarningMessage(this.message(runId, e), ...buttons);
    if (choice === open) this.actions.openMonitor(runId);
    else if (choice === rerun) this.actions.rerunWithPenalty(runId);
  }
}
