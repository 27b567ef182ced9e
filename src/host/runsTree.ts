/**
 * The Runs tree (`fisherLens.runs`): one item per run directory, newest first, label = run id, a live state
 * icon, headline numbers as description, details in the tooltip, `contextValue` `run.<state>` for menus
 * (`run.<state>.rerunfp` where "Rerun with Fisher Penalty" applies). The runs of a sweep (tag `sweep/<name>`)
 * are grouped under one sweep node (`contextValue` `sweep.live` while any of them is queued or running, else
 * `sweep.done`), placed where its newest run would be.
 */
import * as vscode from 'vscode';
import type { RunState } from '../shared/protocol';
import { atStep, engineLabel, engineVersions, fmt, pct, peakLabel, times } from '../shared/format';
import { matchesFilter } from '../shared/userMeta';
import { rerunFisherPenaltyBlocker, type RerunConfigFields } from '../shared/rerun';
import { DisposableOwner } from './dispose';
import type { RunEntry, RunsModel } from './runsModel';
import { markdownText, noLinks, plain, safeMarkdown } from './sanitize';
import { sweepNameOf } from './sweeps';

/** A sweep's group in the tree: its runs, newest first. */
export interface SweepNode {
  kind: 'sweep';
  name: string;
  runs: RunEntry[];
}
export type RunsTreeNode = RunEntry | SweepNode;
export const isSweepNode = (n: unknown): n is SweepNode =>
  !!n && typeof n === 'object' && (n as SweepNode).kind === 'sweep';

/** A sweep in the tree: its name, its runs' states counted. */
export class SweepItem extends vscode.TreeItem {
  constructor(readonly sweep: SweepNode) {
    super(`sweep ${plain(sweep.name)}`, vscode.TreeItemCollapsibleState.Expanded);
    this.id = `sweep:${sweep.name}`;
    const n = new Map<string, number>();
    for (const r of sweep.runs) n.set(r.state, (n.get(r.state) ?? 0) + 1);
    const live = (n.get('running') ?? 0) + (n.get('queued') ?? 0) > 0;
    this.iconPath = new vscode.ThemeIcon(live ? 'layers-active' : 'layers');
    this.contextValue = live ? 'sweep.live' : 'sweep.done';
    const order = ['running', 'queued', 'completed', 'diverged', 'stopped', 'failed'];
    this.description = [
      `${sweep.runs.length} run${sweep.runs.length === 1 ? '' : 's'}`,
      ...order.filter((s) => n.has(s)).map((s) => `${n.get(s)} ${s}`),
    ].join(' · ');
    this.tooltip = `Sweep ${plain(sweep.name)}: ${this.description}`;
  }
}

const ICONS: Record<RunState, [string, string | undefined]> = {
  queued: ['clock', undefined],
  running: ['sync~spin', 'charts.blue'],
  completed: ['pass', 'testing.iconPassed'],
  stopped: ['debug-stop', 'disabledForeground'],
  failed: ['error', 'testing.iconFailed'],
  diverged: ['flame', 'list.warningForeground'],
};

/** A run in the tree. */
export class RunItem extends vscode.TreeItem {
  constructor(readonly run: RunEntry) {
    // A run the user named shows that name (the id is in the tooltip); otherwise its id.
    super(plain(run.user?.name ?? run.runId), vscode.TreeItemCollapsibleState.None);
    this.id = run.runId;
    // A run that completed with measurements but no usable Tr(F) scale (Tr(F) ≈ 0 from the start: a dead
    // network) is not shown as a plain success.
    const dead = run.state === 'completed' && isDead(run);
    const [icon, color] = dead
      ? ['warning', 'list.warningForeground']
      : (ICONS[run.state] ?? ['circle-outline', undefined]);
    this.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    // `.rerunfp`: "Rerun with Fisher Penalty" applies (package.json menus match it).
    const rerun = rerunFisherPenaltyBlocker(run.config as RerunConfigFields | null) === null;
    this.contextValue = `run.${run.state}${rerun ? '.rerunfp' : ''}`;
    this.description = describe(run);
    this.tooltip = tooltip(run);
    this.command = {
      command: 'fisherLens.openMonitor',
      title: 'Open Monitor',
      arguments: [run.runId],
    };
  }
}

/** The detector found no scale to judge the run by although it measured an early peak (Tr(F) ≈ 0 at the start). */
function isDead(r: RunEntry): boolean {
  return r.summary?.explosion === null && typeof r.summary.peakTrF === 'number';
}

/** Headline numbers: peak Tr(F) and test accuracy; progress for live runs. */
export function describe(r: RunEntry): string {
  const h = r.headline;
  const parts: string[] = [];
  if (r.user?.tags?.length) parts.push(r.user.tags.map((t) => `#${t}`).join(' '));
  if (r.state === 'running') {
    const total = r.status?.totalSteps;
    parts.push(`step ${Math.max(h.step, r.status?.step ?? 0)}${total ? `/${total}` : ''}`);
    if (h.lastTrF !== null) parts.push(`Tr(F) ${fmt(h.lastTrF)}`);
  } else if (r.state === 'queued') {
    parts.push('queued');
  }
  if (h.peakTrF !== null) parts.push(`${h.peakKind} ${fmt(h.peakTrF)}`);
  if (h.testAcc !== null) parts.push(`test ${pct(h.testAcc)}`);
  if (r.state === 'failed' || r.state === 'diverged') parts.push(r.stale ? 'stale' : r.state);
  if (r.state === 'completed' && isDead(r)) parts.push('⚠ Tr(F) ≈ 0 from the start');
  // What is wrong with its files, named (the first problem; the tooltip lists them).
  if (r.problems.length)
    parts.push(`⚠ ${r.problems[0]}${r.problems.length > 1 ? ` (+${r.problems.length - 1})` : ''}`);
  return noLinks(parts.join(' · '), 300);
}

/** Details of a run as an untrusted MarkdownString: every value escaped, no links, HTML or icons. */
export function tooltip(r: RunEntry): vscode.MarkdownString {
  const md = safeMarkdown();
  const h = r.headline;
  const c = r.config as Record<string, Record<string, unknown>> | null;
  const esc = (s: unknown) => markdownText(s, 300);
  md.appendMarkdown(
    `**${esc(r.runId)}** — ${esc(r.state)}${r.stale ? ` (stale: ${esc(r.stale)})` : ''}\n\n`,
  );
  const rows: [string, string][] = [];
  if (r.user?.name) rows.push(['Name', r.user.name]);
  if (r.user?.tags?.length) rows.push(['Tags', r.user.tags.map((t) => `#${t}`).join(' ')]);
  if (r.user?.notes) rows.push(['Notes', r.user.notes.replace(/\s+/g, ' ').slice(0, 280)]);
  if (r.status)
    rows.push([
      'Steps',
      `${Math.max(r.status.step, h.step)}${r.status.totalSteps ? ` / ${r.status.totalSteps}` : ''}`,
    ]);
  if (c) {
    rows.push([
      'Model',
      `${c.model?.arch ?? '?'} on ${c.dataset?.name ?? '?'} (${c.dataset?.trainSize ?? '?'} examples)`,
    ]);
    rows.push([
      'SGD',
      `lr ${c.optimizer?.lr}, momentum ${c.optimizer?.momentum}, batch ${c.optimizer?.batchSize}`,
    ]);
    if (c.penalty && c.penalty.kind !== 'none')
      rows.push(['Penalty', `${c.penalty.kind} α ${c.penalty.alpha} every ${c.penalty.every}`]);
    if (c.labelNoise && Number(c.labelNoise.fraction) > 0)
      rows.push(['Label noise', pct(Number(c.labelNoise.fraction))]);
  }
  if (h.peakTrF !== null)
    rows.push([
      `${peakLabel(h.peakKind)}${h.peakKind === 'max' ? ' (no confirmed early peak)' : ''}`,
      atStep(fmt(h.peakTrF), h.peakStep),
    ]);
  if (h.trFi !== null) rows.push(['Tr(F_i)', atStep(fmt(h.trFi), h.trFiStep)]);
  if (h.explosion)
    rows.push([
      'Explosion',
      `at step ${h.explosion.step}${h.explosion.rise ? ` (early peak ${times(h.explosion.rise, 2)} ${h.explosion.baseLabel ?? 'its Tr(F) at initialisation'})` : ''}`,
    ]);
  else if (typeof r.summary?.explosionReason === 'string')
    // The detector's verdict of a finished run: no explosion, or undecided (e.g. Tr(F) ≈ 0 from the start).
    rows.push([
      r.summary.explosion === null ? 'Explosion test: undecided' : 'No explosion',
      r.summary.explosionReason,
    ]);
  if (h.testAcc !== null) rows.push(['Test accuracy', pct(h.testAcc)]);
  if (h.cleanAcc !== null)
    rows.push(['Clean / noisy train acc.', `${pct(h.cleanAcc)} / ${pct(h.noisyAcc)}`]);
  const engine = engineLabel(r.engine);
  if (engine) rows.push(['Engine', engine]);
  const versions = engineVersions(r.engine?.engine);
  if (versions) rows.push(['Versions', versions]);
  if (r.summary?.backend) rows.push(['Backend', r.summary.backend]);
  const started = r.status?.startedAt ? Date.parse(r.status.startedAt) : NaN;
  if (Number.isFinite(started)) rows.push(['Started', new Date(started).toLocaleString()]);
  if (r.status?.host)
    rows.push([
      'Host',
      `${r.status.host}${r.status.pid ? ` (pid ${r.status.pid})` : ''}${r.status.jobId ? `, job ${r.status.jobId}` : ''}`,
    ]);
  const err = r.status?.error ?? r.summary?.error;
  if (err) rows.push(['Error', err]);
  for (const p of r.problems.slice(0, 8)) rows.push(['Problem', p]);
  md.appendMarkdown(
    '| | |\n|---|---|\n' + rows.map(([k, v]) => `| ${esc(k)} | ${esc(v)} |`).join('\n'),
  );
  return md;
}

export class RunsTreeProvider
  extends DisposableOwner
  implements vscode.TreeDataProvider<RunsTreeNode>
{
  private readonly changed = this.register(new vscode.EventEmitter<RunsTreeNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly store: RunsModel) {
    super();
    // Live runs change many times a second: refresh the tree at most every 500 ms.
    this.register(store.onDidChange(() => this.schedule()));
    this.register({ dispose: () => this.timer && clearTimeout(this.timer) });
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.changed.fire(undefined);
    }, 500);
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(node: RunsTreeNode): vscode.TreeItem {
    return isSweepNode(node) ? new SweepItem(node) : new RunItem(node);
  }

  private filterText = '';

  /** The filter ('' = every run): see `matchesFilter` in src/shared/userMeta.ts. */
  get filter(): string {
    return this.filterText;
  }

  setFilter(text: string): void {
    this.filterText = text;
    this.changed.fire(undefined);
  }

  /** Runs shown / all runs. */
  counts(): { shown: number; total: number } {
    const all = this.store.runs();
    return { shown: all.filter((r) => this.passes(r)).length, total: all.length };
  }

  private passes(r: RunEntry): boolean {
    return !this.filterText || matchesFilter(this.filterText, { ...r, meta: r.user });
  }

  /** The sweep nodes of the last listing, by name (getParent answers with the same objects). */
  private sweeps = new Map<string, SweepNode>();

  getChildren(parent?: RunsTreeNode): RunsTreeNode[] {
    if (parent) return isSweepNode(parent) ? parent.runs : [];
    const out: RunsTreeNode[] = [];
    const sweeps = new Map<string, SweepNode>();
    for (const r of this.store.runs()) {
      if (!this.passes(r)) continue;
      const name = sweepNameOf(r);
      if (!name) {
        out.push(r);
        continue;
      }
      let g = sweeps.get(name);
      if (!g) {
        g = { kind: 'sweep', name, runs: [] };
        sweeps.set(name, g);
        out.push(g);
      }
      g.runs.push(r);
    }
    this.sweeps = sweeps;
    return out;
  }

  getParent(node: RunsTreeNode): SweepNode | undefined {
    if (isSweepNode(node)) return undefined;
    const name = sweepNameOf(node);
    if (!name) return undefined;
    if (!this.sweeps.has(name)) this.getChildren();
    return this.sweeps.get(name);
  }
}
