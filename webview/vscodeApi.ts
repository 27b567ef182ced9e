/** The typed VS Code webview API: one `post` per direction's message union, saved view state. */

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

export interface WebviewApi<Out, State> {
  post(message: Out): void;
  getState(): State | undefined;
  setState(state: State): void;
  /** Report to the host's "Fisher Lens" output channel. */
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** Acquire the API (allowed once per document). */
export function webviewApi<Out, State>(): WebviewApi<Out, State> {
  const api = acquireVsCodeApi();
  return {
    post: (m) => api.postMessage(m),
    getState: () => (api.getState() as State | undefined) ?? undefined,
    setState: (s) => api.setState(s),
    log: (level, message) =>
      api.postMessage({ type: 'log', level, message: String(message).slice(0, 100_000) }),
  };
}

/**
 * Receive host messages: each is validated first (a malformed one is dropped and logged, never handled), and a
 * handler that throws is logged instead of breaking the view.
 */
export function onHostMessage<T extends { type: string }>(
  api: { log(level: 'warn' | 'error', m: string): void },
  view: string,
  validate: (data: unknown) => { ok: true; msg: T } | { ok: false; error: string },
  handle: (m: T) => void,
): void {
  window.addEventListener('message', (e: MessageEvent) => {
    const v = validate(e.data);
    if (!v.ok) {
      api.log('warn', `${view} webview dropped a malformed message: ${v.error}`);
      return;
    }
    try {
      handle(v.msg);
    } catch (err) {
      api.log(
        'error',
        `${view} webview failed on ${v.msg.type}: ${(err as Error).stack ?? String(err)}`,
      );
    }
  });
}

/** Forward uncaught errors to the host so they end up in the output channel. */
export function reportErrors(api: { log(level: 'error', m: string): void }): void {
  window.addEventListener('error', (e) =>
    api.log('error', `${e.message} (${e.filename}:${e.lineno})`),
  );
  window.addEventListener('unhandledrejection', (e) =>
    api.log('error', `unhandled rejection: ${String(e.reason)}`),
  );
}

/** Resolve when the vscode-elements custom elements are defined (or after a timeout). */
export function whenElementsDefined(tags: string[], timeoutMs = 8000): Promise<boolean> {
  return Promise.race([
    Promise.all(tags.map((t) => customElements.whenDefined(t))).then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs)),
  ]);
}
