/**
 * What the monitor and compare panels share: the replica protocol. The host owns the history (RunsModel); a
 * webview gets one snapshot when it says `ready` (first load, visible again, restored after a reload) and then
 * batched `events` increments and `state` changes of the runs it shows, while visible. Hidden panels get nothing
 * (their webview is torn down and says `ready` again). Messages from the webview are validated before use.
 */
import * as vscode from 'vscode';
import type { RunEvent } from '../../shared/protocol';
import type {
  EventsMessage,
  LogMessage,
  ReadyMessage,
  StateMessage,
} from '../../shared/webviewProtocol';
import { DisposableOwner } from '../dispose';
import { log } from '../log';
import type { Follow, RunEntry, RunsModel } from '../runsModel';
import type { RunViewSettings } from './viewSettings';
import { webviewHtml, type View } from './webviewHtml';

/** What panels need from the rest of the host. */
export interface PanelHost {
  extensionUri: vscode.Uri;
  store: RunsModel;
  stopRun(runId: string): void;
  openMonitor(runId: string): void;
  setActiveRun(runId: string): void;
  /** Whether this window has queued the run and not started it yet (its folder may not be listed yet). */
  isQueuedHere?(runId: string): boolean;
  /** The monitor's view settings kept per run (absent: nothing is kept across reopening). */
  viewSettings?: RunViewSettings;
}

/** The line a view shows next to a run's state: why it is stale, its error, or what is wrong with its files. */
export function stateMessage(
  r: Pick<RunEntry, 'stale' | 'status' | 'summary' | 'problems'>,
): string | null {
  const parts: string[] = [];
  if (r.stale) parts.push(`stale: ${r.stale}`);
  const err = r.status?.error ?? r.summary?.error;
  if (err) parts.push(err);
  if (r.problems.length) parts.push(r.problems.slice(0, 3).join('; '));
  const s = parts.join(' · ');
  return s ? (s.length > 2000 ? `${s.slice(0, 1999)}…` : s) : null;
}

/** A validator of webview → host messages (src/shared/webviewProtocol.ts). */
type Validate<M> = (raw: unknown) => { ok: true; msg: M } | { ok: false; error: string };

/** How a panel is set up: its name in the log, its validator, how long increments are batched. */
export interface ReplicaOptions<From> {
  /** Prefix of its log lines, e.g. `monitor <runId>` or `compare`. */
  label: string;
  validate: Validate<From>;
  flushMs: number;
}

/** A panel that is a replica of some runs' histories; subclasses build the snapshot and handle their messages. */
export abstract class ReplicaPanel<
  To extends { type: string },
  From extends { type: string },
> extends DisposableOwner {
  protected ready = false;
  private readonly queue = new Map<string, RunEvent[]>();
  private flushTimer: NodeJS.Timeout | null = null;
  private follows = new Map<string, Follow>();
  private readonly lastStates = new Map<string, string>();
  private readyWaiters: (() => void)[] = [];

  protected constructor(
    protected readonly host: PanelHost,
    readonly panel: vscode.WebviewPanel,
    private readonly opts: ReplicaOptions<From>,
  ) {
    super();
    panel.iconPath = vscode.Uri.joinPath(host.extensionUri, 'media', 'fisher-lens.svg');
    this.register(panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
    this.register(panel.onDidChangeViewState(({ webviewPanel }) => this.onViewState(webviewPanel)));
    this.register(panel.onDidDispose(() => this.dispose()));
    this.register(
      host.store.onEvents(
        (c) => this.follows.has(c.runId) && this.onRunEvents(c.runId, c.events, c),
      ),
    );
    this.register(host.store.onDidChange((id) => this.onRunChanged(id)));
    this.register({ dispose: () => this.follows.forEach((f) => f.dispose()) });
    this.register({ dispose: () => this.flushTimer && clearTimeout(this.flushTimer) });
  }

  /** The runs shown, in order. */
  protected get runIds(): string[] {
    return [...this.follows.keys()];
  }

  /** Show these runs: follow them (their histories load, also before a run is listed) and drop the others. */
  protected followRuns(runIds: readonly string[]): void {
    const before = this.follows;
    // Follow the new runs before letting go of the old: a run in both keeps its loaded history.
    this.follows = new Map(runIds.map((id) => [id, this.host.store.follow(id)]));
    for (const f of before.values()) f.dispose();
    this.lastStates.clear();
  }

  /** Load a new document; the webview posts `ready` when it has loaded and gets the snapshot then. */
  protected load(view: View, title: string, body: string): void {
    this.ready = false;
    this.panel.webview.html = webviewHtml(
      this.panel.webview,
      this.host.extensionUri,
      view,
      title,
      body,
    );
  }

  /** Post the snapshot of the runs shown (called once their histories are loaded and the view is ready). */
  protected abstract sendSnapshot(): void;

  /** A validated message other than `ready` and `log`. */
  protected abstract onMessage(m: Exclude<From, ReadyMessage | LogMessage>): void;

  /** The panel became visible, hidden, active or inactive. */
  protected onViewState(p: vscode.WebviewPanel): void {
    if (!p.visible) this.ready = false; // the webview is torn down; it says `ready` again
  }

  protected post(msg: To | EventsMessage | StateMessage): void {
    void this.panel.webview
      .postMessage(msg)
      .then(undefined, (e) => log.debug(`${this.opts.label}: post failed: ${String(e)}`));
  }

  /** Record the state a snapshot carried, so only later changes are posted; returns the state line. */
  protected snapshotState(runId: string, r: RunEntry): string | null {
    const message = stateMessage(r);
    this.lastStates.set(runId, `${r.state}|${r.summary ? 1 : 0}|${message ?? ''}`);
    return message;
  }

  /** Wait until the webview is loaded and visible (false after `timeoutMs`). */
  whenReady(timeoutMs = 15000): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  override dispose(): void {
    if (this.disposed) return;
    super.dispose();
    this.panel.dispose();
  }

  private snapshotWhenLoaded(): void {
    void Promise.all([...this.follows.values()].map((f) => f.loaded)).then(() => {
      if (!this.ready) return;
      this.queue.clear(); // everything queued so far is in the snapshot
      this.sendSnapshot();
    });
  }

  private onRunEvents(runId: string, events: RunEvent[], c: { initial: boolean; reset: boolean }) {
    if (c.reset) {
      if (this.ready) this.snapshotWhenLoaded();
    } else if (!c.initial && this.ready && this.panel.visible) {
      // Not ready or hidden: nothing is queued, a snapshot follows when it is visible again.
      const q = this.queue.get(runId) ?? [];
      q.push(...events);
      this.queue.set(runId, q);
      this.flushTimer ??= setTimeout(() => this.flushEvents(), this.opts.flushMs);
    }
  }

  private flushEvents() {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    if (!this.ready) return;
    for (const [runId, events] of this.queue)
      if (events.length) this.post({ type: 'events', runId, events });
    this.queue.clear();
  }

  /** A run's state, summary or state line changed: post it (after the events before it). */
  private onRunChanged(id: string | undefined) {
    if (!this.ready) return;
    for (const runId of id ? [id] : this.runIds) {
      const r = this.follows.has(runId) ? this.host.store.get(runId) : undefined;
      if (!r) continue;
      const message = stateMessage(r);
      const key = `${r.state}|${r.summary ? 1 : 0}|${message ?? ''}`;
      if (this.lastStates.get(runId) === key) continue;
      this.lastStates.set(runId, key);
      this.flushEvents(); // a finished run never shows with its last points missing
      this.post({ type: 'state', runId, state: r.state, message, summary: r.summary });
    }
  }

  private receive(raw: unknown) {
    const v = this.opts.validate(raw);
    if (!v.ok) {
      log.warn(`${this.opts.label}: dropped a malformed message: ${v.error}`);
      return;
    }
    const m = v.msg as From | ReadyMessage | LogMessage;
    if (m.type === 'ready') {
      this.ready = true;
      this.snapshotWhenLoaded();
      for (const w of this.readyWaiters.splice(0)) w();
    } else if (m.type === 'log') {
      const l = m as LogMessage;
      log[l.level](`${this.opts.label}: ${l.message}`);
    } else {
      this.onMessage(m as Exclude<From, ReadyMessage | LogMessage>);
    }
  }
}
