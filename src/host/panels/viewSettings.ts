/**
 * The monitor's view settings kept per run (x axis, smoothing, log scale) in the workspace's memento, so the
 * monitor of a run opens as it was left. What is read back is validated (a corrupt or old entry is ignored);
 * at most {@link MAX_RUNS} runs are kept, the most recently changed.
 */
import type * as vscode from 'vscode';
import { validateMonitorSettings, type MonitorSettings } from '../../shared/webviewProtocol';

/** Settings of a run's monitor: read when a monitor opens, written when the user changes one. */
export interface RunViewSettings {
  get(runId: string): MonitorSettings | null;
  set(runId: string, s: MonitorSettings): void;
}

export const MEMENTO_KEY = 'fisherLens.monitorSettings';
export const MAX_RUNS = 500;

/** Per-run settings in `memento` (the extension's workspaceState). */
export function mementoViewSettings(
  memento: Pick<vscode.Memento, 'get' | 'update'>,
  max = MAX_RUNS,
): RunViewSettings {
  const all = (): Record<string, unknown> => {
    const v = memento.get<unknown>(MEMENTO_KEY);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  };
  return {
    get: (runId) => (Object.hasOwn(all(), runId) ? validateMonitorSettings(all()[runId]) : null),
    set: (runId, s) => {
      const next = Object.entries(all()).filter(([k]) => k !== runId);
      next.push([runId, { xAxis: s.xAxis, smoothing: s.smoothing, logScale: s.logScale }]);
      void memento.update(MEMENTO_KEY, Object.fromEntries(next.slice(-max)));
    },
  };
}
