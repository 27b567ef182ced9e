/**
 * A small stand-in for the `vscode` module, enough to activate the extension in plain Node and drive its
 * commands, tree, status bar and panels in unit tests. Records what the extension shows; dialogs answer from
 * a script. Install with {@link installFakeVscode} before the extension's modules are loaded.
 */
import Module from 'node:module';
import path from 'node:path';

type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners = new Set<Listener<T>>();
  event = (l: Listener<T>) => {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  };
  fire(e: T) {
    for (const l of [...this.listeners]) l(e);
  }
  dispose() {
    this.listeners.clear();
  }
}

export class Disposable {
  constructor(private fn: () => void) {}
  static from(...ds: { dispose(): unknown }[]) {
    return new Disposable(() => ds.forEach((d) => d.dispose()));
  }
  dispose() {
    this.fn();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(p: string) {
    return new Uri('file', path.resolve(p));
  }
  static joinPath(u: Uri, ...parts: string[]) {
    return new Uri(u.scheme, path.join(u.path, ...parts));
  }
  get fsPath() {
    return this.path;
  }
  toString() {
    return `${this.scheme}://${this.path}`;
  }
}

export class ThemeIcon {
  constructor(
    readonly id: string,
    readonly color?: ThemeColor,
  ) {}
}
export class ThemeColor {
  constructor(readonly id: string) {}
}
export class MarkdownString {
  value = '';
  supportThemeIcons = false;
  constructor(v?: string) {
    this.value = v ?? '';
  }
  appendMarkdown(s: string) {
    this.value += s;
    return this;
  }
}
export class TreeItem {
  id?: string;
  iconPath?: unknown;
  contextValue?: string;
  description?: string;
  tooltip?: unknown;
  command?: unknown;
  resourceUri?: Uri;
  constructor(
    readonly label: string,
    readonly collapsibleState?: number,
  ) {}
}
export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}
export class Range {
  constructor(
    readonly start: Position,
    readonly end: Position,
  ) {}
}
export const DiagnosticSeverity = { Error: 0, Warning: 1, Information: 2, Hint: 3 };
export class Diagnostic {
  source?: string;
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: number,
  ) {}
}
/** A text document as the fake workspace holds it (`fake.openDocument`). */
export interface FakeDocument {
  uri: Uri;
  fileName: string;
  isClosed: boolean;
  isDirty: boolean;
  text: string;
  getText(): string;
  save(): Promise<boolean>;
}
export const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };
export const StatusBarAlignment = { Left: 1, Right: 2 };
export const ViewColumn = { Active: -1, Beside: -2, One: 1 };
export const QuickPickItemKind = { Separator: -1, Default: 0 };

export interface FakePanel {
  viewType: string;
  title: string;
  visible: boolean;
  active: boolean;
  iconPath?: unknown;
  webview: {
    html: string;
    options: unknown;
    cspSource: string;
    posted: unknown[];
    asWebviewUri(u: Uri): Uri;
    postMessage(m: unknown): Promise<boolean>;
    onDidReceiveMessage: EventEmitter<unknown>['event'];
    /** Test side: deliver a message as if the webview posted it. */
    receive(m: unknown): void;
  };
  reveal(): void;
  dispose(): void;
  onDidDispose: EventEmitter<void>['event'];
  onDidChangeViewState: EventEmitter<{ webviewPanel: FakePanel }>['event'];
  /** Test side: hide or show the panel. */
  setVisible(v: boolean): void;
  disposed: boolean;
}

/** What the fake records and how dialogs answer. */
export const fake = {
  settings: {} as Record<string, unknown>,
  workspaceFolder: '' as string,
  trusted: true,
  messages: [] as { level: 'info' | 'warn' | 'error'; text: string; items: string[] }[],
  /** Answer for the next message boxes (by text match), else undefined. */
  answers: [] as { match: RegExp; answer: string | undefined }[],
  quickPicks: [] as ((items: unknown[]) => unknown)[],
  log: [] as string[],
  panels: [] as FakePanel[],
  /** Terminals the extension opened, with the options it gave (a process, no shell: shellPath + shellArgs). */
  terminals: [] as {
    name?: string;
    shellPath?: string;
    shellArgs?: string[];
    cwd?: string;
    env?: Record<string, string>;
  }[],
  statusItems: [] as { text: string; tooltip: unknown; command: unknown; visible: boolean }[],
  treeViews: [] as {
    id: string;
    provider: { getChildren(e?: unknown): unknown; getTreeItem(e: unknown): unknown };
    message?: string;
  }[],
  commands: new Map<string, (...a: unknown[]) => unknown>(),
  /** Diagnostics by file path (what the Problems panel would list). */
  diagnostics: new Map<string, Diagnostic[]>(),
  documents: [] as FakeDocument[],
  docOpened: new EventEmitter<FakeDocument>(),
  docChanged: new EventEmitter<{ document: FakeDocument }>(),
  docClosed: new EventEmitter<FakeDocument>(),
  /** Open (or replace the text of) a document: fires the workspace's open/change events. */
  openDocument(file: string, text: string): FakeDocument {
    const known = this.documents.find((d) => d.fileName === file);
    if (known) {
      known.text = text;
      this.docChanged.fire({ document: known });
      return known;
    }
    const d: FakeDocument = {
      uri: Uri.file(file),
      fileName: file,
      isClosed: false,
      isDirty: false,
      text,
      getText: () => d.text,
      save: async () => true,
    };
    this.documents.push(d);
    this.docOpened.fire(d);
    return d;
  },
  serializers: new Map<string, unknown>(),
  configEmitter: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
  /** Installed extensions by id (`vscode.extensions.getExtension`), e.g. a fake ms-python.python. */
  extensions: new Map<string, FakeExtension>(),
  reset() {
    this.messages.length = 0;
    this.answers.length = 0;
    this.quickPicks.length = 0;
    this.log.length = 0;
  },
};

/** An installed extension as `vscode.extensions.getExtension` returns it. */
export interface FakeExtension {
  id: string;
  isActive: boolean;
  exports: unknown;
  activate(): Promise<unknown>;
}

/**
 * A stand-in for the Python extension (ms-python.python): its API's `environments` with the interpreter
 * `exe` selected (undefined: an environment without an executable). Counts activations and API calls.
 */
export function fakePythonExtension(exe: string | undefined, o: { activateMs?: number } = {}) {
  const calls = { activate: 0, getActiveEnvironmentPath: 0, resolveEnvironment: 0 };
  const ext: FakeExtension & { calls: typeof calls } = {
    id: 'ms-python.python',
    isActive: false,
    calls,
    exports: {
      environments: {
        getActiveEnvironmentPath: () => {
          calls.getActiveEnvironmentPath++;
          return { id: 'fake-env', path: exe ?? '/fake/env' };
        },
        resolveEnvironment: async (p: { path: string }) => {
          calls.resolveEnvironment++;
          return {
            id: 'fake-env',
            path: p.path,
            executable: { uri: exe ? Uri.file(exe) : undefined },
          };
        },
      },
    },
    async activate() {
      calls.activate++;
      if (o.activateMs) await new Promise((r) => setTimeout(r, o.activateMs));
      ext.isActive = true;
      return ext.exports;
    },
  };
  return ext;
}

function message(level: 'info' | 'warn' | 'error') {
  return async (text: string, ...rest: unknown[]) => {
    const items = rest.filter((x): x is string => typeof x === 'string');
    fake.messages.push({ level, text, items });
    const i = fake.answers.findIndex((a) => a.match.test(text));
    if (i >= 0) return fake.answers.splice(i, 1)[0].answer;
    return undefined;
  };
}

function createPanel(viewType: string, title: string, _col: unknown, options: unknown): FakePanel {
  const msgs = new EventEmitter<unknown>();
  const disposed = new EventEmitter<void>();
  const viewState = new EventEmitter<{ webviewPanel: FakePanel }>();
  const p: FakePanel = {
    viewType,
    title,
    visible: true,
    active: true,
    disposed: false,
    webview: {
      html: '',
      options,
      cspSource: 'https://fake.vscode-cdn.net',
      posted: [],
      asWebviewUri: (u: Uri) => u,
      postMessage: async (m: unknown) => {
        if (!p.disposed) p.webview.posted.push(JSON.parse(JSON.stringify(m)));
        return !p.disposed;
      },
      onDidReceiveMessage: msgs.event,
      receive: (m: unknown) => msgs.fire(m),
    },
    reveal() {
      p.setVisible(true);
    },
    dispose() {
      if (p.disposed) return;
      p.disposed = true;
      disposed.fire();
    },
    onDidDispose: disposed.event,
    onDidChangeViewState: viewState.event,
    setVisible(v: boolean) {
      if (p.visible === v) return;
      p.visible = v;
      p.active = v;
      viewState.fire({ webviewPanel: p });
    },
  };
  fake.panels.push(p);
  return p;
}

const logChannel = () => {
  const rec = (lvl: string) => (s: string) => fake.log.push(`[${lvl}] ${s}`);
  return {
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    debug: rec('debug'),
    trace: rec('trace'),
    append: rec('append'),
    appendLine: rec('line'),
    show: () => undefined,
    dispose: () => undefined,
  };
};

export const vscodeFake = {
  EventEmitter,
  Disposable,
  Uri,
  ThemeIcon,
  ThemeColor,
  MarkdownString,
  TreeItem,
  TreeItemCollapsibleState,
  StatusBarAlignment,
  ViewColumn,
  QuickPickItemKind,
  Position,
  Range,
  Diagnostic,
  DiagnosticSeverity,
  version: '1.96.4-fake',
  window: {
    createOutputChannel: () => logChannel(),
    createTreeView: (id: string, opts: { treeDataProvider: FakeTreeProvider }) => {
      const v = {
        id,
        provider: opts.treeDataProvider,
        visible: true,
        message: undefined as string | undefined,
        reveal: async () => undefined,
        dispose: () => undefined,
      };
      fake.treeViews.push(v);
      return v;
    },
    createStatusBarItem: () => {
      const item = {
        text: '',
        tooltip: undefined as unknown,
        command: undefined as unknown,
        visible: false,
        name: '',
        backgroundColor: undefined as unknown,
        show() {
          item.visible = true;
        },
        hide() {
          item.visible = false;
        },
        dispose() {
          item.visible = false;
        },
      };
      fake.statusItems.push(item);
      return item;
    },
    createWebviewPanel: createPanel,
    createTerminal: (opts: (typeof fake.terminals)[number]) => {
      fake.terminals.push(opts);
      return { show: () => undefined, dispose: () => undefined };
    },
    registerWebviewPanelSerializer: (viewType: string, s: unknown) => {
      fake.serializers.set(viewType, s);
      return new Disposable(() => fake.serializers.delete(viewType));
    },
    showInformationMessage: message('info'),
    showWarningMessage: message('warn'),
    showErrorMessage: message('error'),
    showQuickPick: async (items: unknown) => {
      const resolved = await items;
      const f = fake.quickPicks.shift();
      return f ? f(resolved as unknown[]) : undefined;
    },
    showOpenDialog: async () => undefined,
    activeTextEditor: undefined,
  },
  workspace: {
    get workspaceFolders() {
      return fake.workspaceFolder
        ? [{ uri: Uri.file(fake.workspaceFolder), name: 'ws', index: 0 }]
        : undefined;
    },
    get isTrusted() {
      return fake.trusted;
    },
    getConfiguration: (section: string) => ({
      get: <T>(key: string, dflt?: T): T => {
        const k = `${section}.${key}`;
        return (k in fake.settings ? fake.settings[k] : dflt) as T;
      },
    }),
    onDidChangeConfiguration: fake.configEmitter.event,
    onDidChangeWorkspaceFolders: new EventEmitter<unknown>().event,
    findFiles: async () => [],
    get textDocuments() {
      return fake.documents;
    },
    onDidOpenTextDocument: fake.docOpened.event,
    onDidChangeTextDocument: fake.docChanged.event,
    onDidCloseTextDocument: fake.docClosed.event,
    asRelativePath: (u: Uri | string) =>
      typeof u === 'string' ? u : path.relative(fake.workspaceFolder || '/', u.fsPath),
    getWorkspaceFolder: () => undefined,
    fs: { readFile: async () => new Uint8Array() },
  },
  languages: {
    createDiagnosticCollection: (name: string) => ({
      name,
      set: (uri: Uri, ds: Diagnostic[]) => fake.diagnostics.set(uri.fsPath, ds),
      delete: (uri: Uri) => fake.diagnostics.delete(uri.fsPath),
      clear: () => fake.diagnostics.clear(),
      dispose: () => undefined,
    }),
  },
  extensions: {
    getExtension: (id: string) => fake.extensions.get(id),
    get all() {
      return [...fake.extensions.values()];
    },
  },
  commands: {
    registerCommand: (id: string, fn: (...a: unknown[]) => unknown) => {
      if (fake.commands.has(id)) throw new Error(`command ${id} already registered`);
      fake.commands.set(id, fn);
      return new Disposable(() => fake.commands.delete(id));
    },
    executeCommand: async (id: string, ...args: unknown[]) => {
      const f = fake.commands.get(id);
      if (f) return f(...args);
      return undefined; // built-in commands (revealFileInOS, …) do nothing here
    },
  },
};

interface FakeTreeProvider {
  getChildren(e?: unknown): unknown;
  getTreeItem(e: unknown): unknown;
}

let installed = false;
/** Make `require('vscode')` return the fake. */
/** An in-memory vscode.Memento (the extension context's workspaceState). */
export function fakeMemento() {
  const kept = new Map<string, unknown>();
  return {
    keys: () => [...kept.keys()],
    get: (k: string, d?: unknown) => (kept.has(k) ? kept.get(k) : d),
    update: (k: string, v: unknown) => (kept.set(k, v), Promise.resolve()),
  };
}

export function installFakeVscode(): void {
  if (installed) return;
  installed = true;
  const M = Module as unknown as { _load: (req: string, ...rest: unknown[]) => unknown };
  const orig = M._load;
  M._load = function (req: string, ...rest: unknown[]) {
    if (req === 'vscode') return vscodeFake;
    return orig.call(this, req, ...rest);
  };
}
