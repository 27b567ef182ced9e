/**
 * Problems of `*.fisher.json` run configs in the Problems panel. The JSON schema (schemas/run-config.schema.json,
 * used by VS Code's JSON support) checks each field; this adds what only the trainer's validator knows — rules
 * between fields such as a probe larger than the training set — for every open config as it is edited, and,
 * when Run Config File refuses a config, every problem it found (not only a notification); and when the trainer
 * refuses a launched run's config at run time (exit code 2: a data folder that does not exist…), its reasons, on
 * the config file it came from (the run folder's config.json for a preset).
 */
import * as vscode from 'vscode';
import type { ConfigError } from '../shared/config';
import { DisposableOwner } from './dispose';

const isConfigFile = (d: vscode.TextDocument) => /\.fisher\.json$/i.test(d.fileName);
const isConfigError = (e: unknown): e is ConfigError =>
  e instanceof Error && e.name === 'ConfigError' && Array.isArray((e as ConfigError).problems);

/**
 * Where a problem's field is in the text: its message starts with the field's dotted path (`schedule.epochs:`);
 * each key is looked for after the previous one. The whole first line when it cannot be found.
 */
export function problemRange(text: string, problem: string): [number, number] {
  const m = /^([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?:\[\d+\])?:/.exec(problem);
  if (!m) return [0, Math.max(0, text.indexOf('\n'))];
  let from = 0;
  let hit: [number, number] | null = null;
  for (const key of m[1].split('.')) {
    const re = new RegExp(`"${key.replace(/[$]/g, '\\$&')}"\\s*:`, 'g');
    re.lastIndex = from;
    const f = re.exec(text);
    if (!f) break;
    hit = [f.index, f.index + key.length + 2];
    from = re.lastIndex;
  }
  return hit ?? [0, Math.max(0, text.indexOf('\n'))];
}

/**
 * The problems in a trainer's stderr when it refused its config (exit code 2): each `fisher-lens: <file>: <problem>`
 * line without the file, and each `  - <problem>` of an "invalid run config" list. At most 20.
 */
export function trainerConfigProblems(stderr: string): string[] {
  const out: string[] = [];
  for (const raw of stderr.split(/\r?\n/)) {
    const item = /^\s+- (.+)$/.exec(raw);
    let p = item
      ? item[1]
      : /^(?:fisher-lens: (.+)|(invalid run config: .+))$/.exec(raw)?.slice(1).find(Boolean);
    if (!p) continue;
    // The config file's path (the run folder's config.json) is where the problem will be shown: not repeated.
    p = p
      .replace(/^(?:[A-Za-z]:)?[^:]*\.json: /, '')
      .replace(/^invalid run config: (?=\S)/, '')
      .trim();
    if (!p || /^invalid run config:?$/.test(p) || /^… and \d+ more$/.test(p)) continue;
    if (!out.includes(p)) out.push(p);
  }
  return out.slice(0, 20);
}

export class ConfigDiagnostics extends DisposableOwner {
  private readonly collection = this.register(
    vscode.languages.createDiagnosticCollection('fisherLens'),
  );
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor() {
    super();
    const ws = vscode.workspace;
    this.register(ws.onDidOpenTextDocument((d) => this.schedule(d, 0)));
    this.register(ws.onDidChangeTextDocument((e) => this.schedule(e.document, 300)));
    this.register(
      ws.onDidCloseTextDocument((d) => {
        this.collection.delete(d.uri);
      }),
    );
    this.register({ dispose: () => this.timers.forEach((t) => clearTimeout(t)) });
    for (const d of ws.textDocuments) this.schedule(d, 0);
  }

  private schedule(d: vscode.TextDocument, ms: number) {
    if (!isConfigFile(d) || this.disposed) return;
    const key = d.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void this.check(d);
      }, ms),
    );
  }

  /** Check an open config: the problems the schema cannot see (rules between fields). */
  async check(d: vscode.TextDocument): Promise<void> {
    const { parseConfig } = await import('../shared/config');
    if (this.disposed || d.isClosed) return;
    const text = d.getText();
    try {
      parseConfig(text);
      this.collection.delete(d.uri);
    } catch (e) {
      // Field problems are the schema's (VS Code's JSON support shows them): only cross-field ones here.
      const problems = isConfigError(e) && e.crossField ? e.problems : [];
      this.set(d.uri, text, problems);
    }
  }

  /** A config that a command refused: every problem it had, on the file (until it is edited). */
  report(uri: vscode.Uri, text: string, e: unknown): void {
    if (this.disposed || !isConfigError(e)) return;
    this.set(uri, text, e.problems);
  }

  /** Problems the trainer found in a launched run's config (see {@link trainerConfigProblems}), on `uri`. */
  reportProblems(uri: vscode.Uri, text: string, problems: readonly string[]): void {
    if (this.disposed) return;
    this.set(uri, text, problems);
  }

  private set(uri: vscode.Uri, text: string, problems: readonly string[]) {
    if (!problems.length) {
      this.collection.delete(uri);
      return;
    }
    const pos = (offset: number) => {
      const before = text.slice(0, offset);
      const line = before.split('\n').length - 1;
      return new vscode.Position(line, offset - (before.lastIndexOf('\n') + 1));
    };
    this.collection.set(
      uri,
      problems.map((p) => {
        const [a, b] = problemRange(text, p);
        const d = new vscode.Diagnostic(
          new vscode.Range(pos(a), pos(b)),
          p,
          vscode.DiagnosticSeverity.Error,
        );
        d.source = 'Fisher Lens';
        return d;
      }),
    );
  }
}
