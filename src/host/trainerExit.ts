/** How a trainer this window started ended, told to the user (the run directory has the details). */
import * as vscode from 'vscode';
import { EXIT_CODES as EXIT } from '../runs/exitCodes';
import { errorLineOf } from '../shared/format';
import type { LaunchOutcome } from './launcher';
import { log } from './log';

const oneLineText = (s: string) =>
  s
    .split('\n')
    .find((l) => l.trim())
    ?.trim() ?? '';

/** An error for a config the trainer refused or a failed run, a warning for a divergence; nothing otherwise. */
export function reportTrainerExit(
  { runId, code, stderrTail, stopRequested }: LaunchOutcome,
  openMonitor: (runId: string) => void,
  /** The reason the run recorded (status.json `error`), when it wrote one: preferred to its stderr. */
  recorded?: string | null,
): void {
  const last = stderrTail.trim().split('\n').slice(-4).join('\n');
  // The first line of the real error, not the last line of a stack trace (the whole stderr is in the log).
  const reason = oneLineText(recorded ?? '') || errorLineOf(stderrTail);
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
      .showErrorMessage(`Fisher Lens: ${runId} failed${reason ? `: ${reason}` : ''}`, showLog)
      .then((c) => c && log.show());
  } else if (code === EXIT.diverged) {
    void vscode.window
      .showWarningMessage(`Fisher Lens: ${runId} diverged (non-finite loss).`, 'Open Monitor')
      .then((c) => c && openMonitor(runId));
  }
}
