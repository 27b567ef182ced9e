/** Structural disposal: a base class that owns what it registers and disposes it in reverse order. */
import type * as vscode from 'vscode';

export interface IDisposable {
  dispose(): unknown;
}

export class Disposable implements vscode.Disposable {
  private readonly owned: IDisposable[] = [];
  protected disposed = false;

  /** Own `d`: it is disposed with this object (at once if this object is already disposed). */
  protected register<T extends IDisposable>(d: T): T {
    if (this.disposed) d.dispose();
    else this.owned.push(d);
    return d;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const d of this.owned.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // one failing disposal must not keep the others alive
      }
    }
  }
}

/** A disposable from a function. */
export const toDisposable = (fn: () => void): IDisposable & vscode.Disposable => ({ dispose: fn });
