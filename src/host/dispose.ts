/**
 * Structural disposal: {@link DisposableOwner}, a base class that owns what it registers and disposes it in
 * reverse order (hexeditor's `Disposable`, renamed so it is never confused with `vscode.Disposable`).
 */
import type * as vscode from 'vscode';

/** Anything that can be disposed: a `vscode.Disposable`, an owner, a tailer, a follow. */
export interface Releasable {
  dispose(): unknown;
}

/** Base of host objects that own what they register; disposing the owner disposes all of it. */
export class DisposableOwner implements vscode.Disposable {
  private readonly owned: Releasable[] = [];
  protected disposed = false;

  /** Own `d`: it is disposed with this object (at once if this object is already disposed). */
  protected register<T extends Releasable>(d: T): T {
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
export const toDisposable = (fn: () => void): Releasable & vscode.Disposable => ({ dispose: fn });
