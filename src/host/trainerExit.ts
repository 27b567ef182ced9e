/** How a trainer this window started ended, told to the user (the run directory has the details). */
import * as vscode from 'vscode';
import { EXIT_CODES as EXIT } from '../runs/exitCodes';
import type { LaunchOutcome } from './launcher';
import { log } from './log';

/** An error for a config the trainer refused or a failed run, a warning for a divergence; nothing otherwise. */
export function reportTrainerExit(
  { runId, code, stderrTail, stopRequested }: LaunchOutcome,
  openMonitor: (runId: string) => void,
): void {
  const last = stderrTail.trim().split('\n').slice(-4).join('\n');
  const showLog = 'Show Log';
  if (code === EXIT.usage) {
    void vscode.window
      .showErrorMessage(
        `Fisher Lens: ${runId} did not start — invalid run config: ${last || 'see the log'}`,
        showLog,
      )
      .then((c) => c && log.show());
  } else if (code === EXIT.failed || (code === null && !stopRequested)) {
    void vscode.window
      .showErrorMessage(
        `Fisher Lens: ${runId} failed${last ? `: ${last.split('\n').pop()}` : ''}`,
        showLog,
      )
      .then((c) => c && log.show());
  } else if (code === EXIT.diverged) {
    void vscode.window
      .showWarningMessage(`Fisher Lens: ${runId} diverged (non-finite loss).`, 'Open Monitor')
      .then((c) => c && openMonitor(runId));
  }
}
