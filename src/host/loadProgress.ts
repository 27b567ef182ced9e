/** A window progress message for a first read of a long events.jsonl that takes more than a moment. */
import * as vscode from 'vscode';
import { bytes, percent } from '../shared/format';
import { log } from './log';

export class LoadProgress {
  private started = Date.now();
  private resolve: (() => void) | null = null;
  private reporter: { report(v: { message?: string; increment?: number }): void } | null = null;
  private last = 0;
  constructor(private readonly runId: string) {}
  report(done: number, total: number) {
    if (!this.resolve && Date.now() - this.started < 500) return;
    const fraction = total > 0 ? Math.min(1, done / total) : 0;
    if (!this.resolve) {
      const withProgress = (vscode.window as Partial<typeof vscode.window>).withProgress;
      if (!withProgress) return;
      const finished = new Promise<void>((r) => (this.resolve = r));
      void withProgress(
        {
          location: vscode.ProgressLocation?.Window ?? 10,
          title: `Fisher Lens: reading ${this.runId}`,
        },
        (p) => {
          this.reporter = p;
          return finished;
        },
      );
      log.info(`${this.runId}: reading a long events.jsonl (${bytes(total)})`);
    }
    this.reporter?.report({
      message: `${percent(fraction, 0)} of ${bytes(total)}`,
      increment: 100 * (fraction - this.last),
    });
    this.last = fraction;
  }
  done() {
    this.resolve?.();
    this.resolve = null;
  }
}
