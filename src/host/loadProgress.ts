/** A window progress message for a first read of a long events.jsonl that takes more than a moment. */
import * as vscode from 'vscode';
import { log } from './log';

export class LoadProgress {
  private started = Date.now();
  private resolve: (() => void) | null = null;
  private reporter: { report(v: { message?: string; increment?: number }): void } | null = null;
  private last = 0;
  constructor(private readonly runId: string) {}
  report(done: number, total: number) {
    if (!this.resolve && Date.now() - this.started < 500) return;
    const pct = total > 0 ? Math.min(100, (100 * done) / total) : 0;
    if (!this.resolve) {
      const withProgress = (vscode.window as Partial<typeof vscode.window>).withProgress;
      if (!withProgress) return;
      const finished = new Promise<void>((r) => (this.resolve = r));
      void withProgress(
        { location: vscode.ProgressLocation?.Window ?? 10, title: `Fisher Lens: reading ${this.runId}` },
        (p) => {
          this.reporter = p;
          return finished;
        },
      );
      log.info(`${this.runId}: reading a long events.jsonl (${(total / 1048576).toFixed(0)} MiB)`);
    }
    this.reporter?.report({ message: `${pct.toFixed(0)}% of ${(total / 1048576).toFixed(0)} MiB`, increment: pct - this.last });
    this.last = pct;
  }
  done() {
    this.resolve?.();
    this.resolve = null;
  }
}
