/**
 * Request/reply over a webview's one-way messages (hexeditor's `messageId` / `inReplyTo` envelope): a request
 * carries a fresh `requestId`, its reply the same one. Used for every round trip a panel makes (today the
 * monitor's `exportPng` → `png`); the message shapes themselves live in src/shared/webviewProtocol.ts.
 */
import type { Releasable } from '../dispose';

/** A reply is any message that names the request it answers. */
export interface Reply {
  requestId: number;
}

/** The outstanding requests of one panel; a reply settles the request with its id, a timeout or disposal the rest. */
export class PendingRequests<R extends Reply> implements Releasable {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: R | Error) => void>();

  /**
   * Send a request (`send` posts it with the id it is given) and wait for its reply. Rejects with an Error
   * naming `what` when no reply comes within `timeoutMs`, or when the panel goes first.
   */
  request(send: (requestId: number) => void, what: string, timeoutMs: number): Promise<R> {
    const requestId = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(
        () => this.settle(requestId, new Error(`no answer from ${what}`)),
        timeoutMs,
      );
      this.waiting.set(requestId, (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      });
      send(requestId);
    });
  }

  /** A reply arrived: settle its request. False when nothing waits for that id (late, or never asked). */
  reply(r: R): boolean {
    return this.settle(r.requestId, r);
  }

  /** Fail every outstanding request (the panel is closing). */
  dispose(): void {
    for (const id of [...this.waiting.keys()]) this.settle(id, new Error('the panel was closed'));
  }

  private settle(requestId: number, r: R | Error): boolean {
    const w = this.waiting.get(requestId);
    if (!w) return false;
    this.waiting.delete(requestId);
    w(r);
    return true;
  }
}
