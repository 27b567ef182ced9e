/** `fisherLens.newRun` (New Run…): a preset or a `*.fisher.json` from the workspace; a preset id as argument skips the pick. */
import path from 'node:path';
import * as vscode from 'vscode';
import { groupKey, sameLr } from '../../runs/detect';
import { pickReferenceRun } from '../../runs/reference';
import type { StoredRunConfig } from '../../runs/runDir';
import type { RunConfig } from '../../shared/config';
import type { Preset } from '../../shared/presets';
import { estimateCost, type CostEstimate, type PastRun } from '../../shared/costEstimate';
import {
  configModule,
  findConfigFiles,
  presetsModule,
  showConfigError,
  trusted,
  type CommandHost,
} from './common';
import { launchRun } from './launchRun';
import { runConfigFile } from './runConfigFile';

type Item = vscode.QuickPickItem & { presetId?: string; file?: vscode.Uri };

export async function newRun(h: CommandHost, presetId?: unknown): Promise<string | undefined> {
  if (!trusted()) return undefined;
  const { PRESETS, presetConfig } = await presetsModule();
  const chosen: Item | undefined =
    typeof presetId === 'string'
      ? { label: presetId, presetId }
      : await pickPresetOrFile(PRESETS, await presetCosts(h, PRESETS));
  if (!chosen) return undefined;
  if (chosen.file) return runConfigFile(h, chosen.file);
  const preset = PRESETS.find((p) => p.id === chosen.presetId);
  if (!preset) {
    void vscode.window.showErrorMessage(
      `Fisher Lens: unknown preset ${JSON.stringify(chosen.presetId)}; presets: ${PRESETS.map((p) => p.id).join(', ')}`,
    );
    return undefined;
  }
  let config: RunConfig;
  try {
    config = presetConfig(preset, h.settings().presetOverrides);
  } catch (e) {
    showConfigError(
      e,
      `Preset ${preset.id} with fisherLens.presetOverrides is not a valid run config`,
    );
    return undefined;
  }
  const name = config.name ?? preset.id;
  if (typeof presetId !== 'string') {
    const plan = await offerReferenceFirst(h, preset, config, PRESETS, presetConfig);
    if (plan === undefined) return undefined; // dismissed
    if (plan?.first) {
      const refId = await launchRun(
        h,
        { kind: 'config', config: plan.first.config },
        plan.first.name,
      );
      if (!refId) return undefined;
      return launchRun(h, { kind: 'config', config }, name, undefined, refId);
    }
    if (plan?.after) return launchRun(h, { kind: 'config', config }, name, undefined, plan.after);
  }
  return launchRun(h, { kind: 'config', config }, name);
}

/**
 * A preset whose config declares its set-up's best known learning rate (`fisher.referenceLr`: the small-LR presets'
 * η*) is compared, for its explosion warning, with a finished run of the set-up at that rate (src/runs/reference.ts).
 * When there is none yet, offer to wait for one queued or training here, else to run the preset at that rate first:
 * either way this run then waits for it. Returns what to wait for (`after`: a run of ours; `first`: a run to start
 * first), null to run this one alone now, undefined when dismissed.
 */
async function offerReferenceFirst(
  h: CommandHost,
  preset: Preset,
  config: RunConfig,
  presets: readonly Preset[],
  presetConfig: (p: Preset, overrides?: unknown) => RunConfig,
): Promise<{ first?: { config: RunConfig; name: string }; after?: string } | null | undefined> {
  const refLr = config.fisher.referenceLr;
  if (refLr === undefined || sameLr(refLr, config.optimizer.lr)) return null;
  const key = groupKey(config);
  const atRef = (c: StoredRunConfig) =>
    !('kind' in c) &&
    sameLr(c.optimizer.lr, refLr) &&
    c.penalty.kind === 'none' &&
    groupKey(c) === key;
  try {
    const runsDir = h.settings().runsDirectory;
    if (pickReferenceRun(runsDir, config, { pinned: h.launcher.pinnedBaseline })) return null;
  } catch {
    return null; // an unreadable runs root: nothing to offer
  }
  const pending = h.launcher.active().find((r) => atRef(r.config));
  let ref: { preset: Preset; config: RunConfig } | undefined;
  for (const p of presets) {
    try {
      const c = presetConfig(p, h.settings().presetOverrides);
      if (atRef(c)) ref = ref ?? { preset: p, config: c };
    } catch {
      // a preset the overrides make invalid is not offered
    }
  }
  if (!pending && !ref) return null;
  type Choice = vscode.QuickPickItem & { plan: 'alone' | 'after' | 'first' };
  const other = pending
    ? {
        label: `Wait for ${pending.name} (lr ${refLr}, ${pending.state}), then run ${preset.label}`,
        detail: `The warning then compares this run with that one, as the paper does.`,
        plan: 'after' as const,
      }
    : {
        label: `Run ${ref!.preset.label} first, then ${preset.label}`,
        detail: `The warning then compares this run with that one (lr ${refLr}), as the paper does; this run waits for it to end.`,
        plan: 'first' as const,
      };
  const picked = await vscode.window.showQuickPick<Choice>(
    [
      {
        label: `Run ${preset.label} alone`,
        detail: `Its explosion warning compares it with its own Tr(F) at initialisation: no run of this set-up at lr ${refLr} has finished yet.`,
        plan: 'alone',
      },
      other,
    ],
    {
      title: `${preset.label}: compared with a run at η* (lr ${refLr})`,
      placeHolder: 'Its explosion warning needs a finished run at the best known learning rate',
      ignoreFocusOut: true,
    },
  );
  if (!picked) return undefined;
  if (picked.plan === 'after') return { after: pending!.runId };
  if (picked.plan === 'first')
    return { first: { config: ref!.config, name: ref!.config.name ?? ref!.preset.id } };
  return null;
}

/**
 * Each preset's expected wall time on the backend that will run it, from this machine's earlier finished runs
 * (src/shared/costEstimate.ts); the text says what it is based on, or that nothing is known yet.
 */
export async function presetCosts(
  h: CommandHost,
  presets: readonly Preset[],
): Promise<Map<string, CostEstimate>> {
  const { presetConfig } = await presetsModule();
  const { totalSteps } = await configModule();
  const history: PastRun[] = [];
  for (const r of h.store.runs()) {
    const c = r.config as RunConfig | null;
    const sm = r.summary;
    if (!c || !sm || (r.state !== 'completed' && r.state !== 'stopped')) continue;
    history.push({
      arch: c.model.arch,
      penalty: c.penalty.kind !== 'none',
      backend: sm.backend,
      steps: sm.steps,
      wallSeconds: sm.wallSeconds,
      startedAt: r.startedAt,
      fisher: { every: c.fisher.every, probeSize: c.fisher.probeSize },
    });
  }
  const s = h.settings();
  const out = new Map<string, CostEstimate>();
  for (const p of presets) {
    try {
      const cfg = presetConfig(p, s.presetOverrides);
      const backend = s.backend !== 'auto' ? s.backend : (cfg.backend ?? 'auto');
      const steps = totalSteps(cfg);
      const est = estimateCost(
        {
          arch: cfg.model.arch,
          penalty: cfg.penalty.kind !== 'none',
          steps,
          fisher: { every: cfg.fisher.every, probeSize: cfg.fisher.probeSize },
        },
        backend,
        history,
      );
      // The size the settings give the preset, then what it will cost.
      out.set(p.id, { ...est, text: `${steps} steps · ${est.text}` });
    } catch {
      // invalid overrides: said when the preset is picked
    }
  }
  return out;
}

async function pickPresetOrFile(
  presets: readonly Preset[],
  costs: Map<string, CostEstimate>,
): Promise<Item | undefined> {
  const files = await findConfigFiles();
  const items: Item[] = [
    { label: 'Presets (from the paper)', kind: vscode.QuickPickItemKind.Separator },
    ...presets.map((p) => ({
      label: p.label,
      description: costs.get(p.id) ? `${p.id} · ${costs.get(p.id)!.text}` : p.id,
      detail: p.detail,
      presetId: p.id,
    })),
  ];
  if (files.length) {
    items.push({ label: 'Config files', kind: vscode.QuickPickItemKind.Separator });
    for (const f of files.sort((a, b) => a.fsPath.localeCompare(b.fsPath))) {
      items.push({
        label: `$(file) ${path.basename(f.fsPath)}`,
        description: vscode.workspace.asRelativePath(f),
        file: f,
      });
    }
  }
  return vscode.window.showQuickPick(items, {
    placeHolder: 'Start a training run: pick a preset or a *.fisher.json config',
    matchOnDetail: true,
    matchOnDescription: true,
    ignoreFocusOut: true,
  });
}
