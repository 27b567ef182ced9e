/**
 * The Fisher explosion warning: when the detector fires on a running run (a `detector` event of kind
 * `explosion` arrives while we follow it), one warning per run naming it and the size of the rise, with
 * "Open Monitor" and "Rerun with Fisher Penalty".
 */
import * as vscode from 'vscode';
import type { DetectorEvent } from '../shared/protocol';
import { ema, fmt } from '../shared/series';
import { Disposable } from './dispose';
import type { RunStore } from './runStore';

/** History older than this (ms) when we first read it is not news: no warning. */
const FRESH_MS = 2 * 60_000;

export class ExplosionWatch extends Disposable {
  private readonly warned = new Set<string>();

  constructor(
    private readonly store: RunStore,
    private readonly actions: { openMonitor(runId: string): void; rerunWithPenalty(runId: string): void },
  ) {
    super();
    this.register(
      store.onEvents(({ runId, events, initial }) => {
        for (const e of events) {
          if (e.type !== 'detector' || e.kind !== 'explosion') continue;
          const r = store.get(runId);
          if (!r || r.state !== 'running') continue;
          if (initial && Date.now() - e.t > FRESH_MS) continue;
          void this.warn(runId, e);
        }
      }),
    );
  }

  /** The warning text, e.g. "Fisher explosion in small-lr: Tr(F) rose 4.2× since step 60". */
  message(runId: string, e: DetectorEvent): string {
    const r = this.store.get(runId);
    const name = r?.name ?? runId;
    const rise = e.rise ?? null;
    const since = this.minStep(runId, e.step);
    const riseText = rise !== null ? `Tr(F) rose ${fmt(rise, 2)}×` : `Tr(F) reached ${fmt(e.value)}`;
    return `Fisher explosion in ${name}: ${riseText}${since !== null ? ` since step ${since}` : ''} (now at step ${e.step}).`;
  }

  /** Step of the smoothed Tr(F) minimum after warm-up and before `upTo` (what the rise is measured from). */
  private minStep(runId: string, upTo: number): number | null {
    const s = this.store.series(runId);
    const r = this.store.get(runId);
    if (!s || !s.fisher.step.length) return null;
    const warmup = Number((r?.config as { fisher?: { warmupSteps?: number } } | null)?.fisher?.warmupSteps ?? 20);
    const sm = ema(s.fisher.trF, 0.6);
    let best = -1;
    for (let i = 0; i < sm.length; i++) {
      const st = s.fisher.step[i];
      if (st < warmup || st > upTo || sm[i] === null) continue;
      if (best < 0 || (sm[i] as number) < (sm[best] as number)) best = i;
    }
    return best >= 0 ? s.fisher.step[best] : null;
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
