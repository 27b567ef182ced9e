/**
 * The explosion warning in the editor (part of fisher-lens.e2e.ts): the large-LR preset, then the small-LR preset, at
 * the corpus's `e2e` size (scripts/detector-corpus.ts `SIZES.e2e`: an MLP 256-256 on 2048 MNIST examples for 15
 * epochs, Tr(F) every 10 steps on a probe of 128). The large-LR run is the first of its set-up: it is compared with
 * its own start and must raise no warning. The small-LR run gets the large-LR run as its reference (the best known
 * learning rate of the same model and data, src/runs/reference.ts) and must raise "Fisher explosion in small-lr: …"
 * naming what it was compared with. Everything waits on observable state (the picker showing the size, status.json,
 * the notifications), never on a fixed sleep.
 */
import fs from 'node:fs';
import path from 'node:path';
import { SIZES } from '../../../scripts/detector-corpus';
import { assert, lap, sleep, waitFor, type Runner, type Workbench } from '../harness';

const CMD_NEW_RUN = 'Fisher Lens: New Run…';
const PRESET_LARGE = /Large learning rate/i;
const PRESET_SMALL = /Small learning rate \(/i;

export interface ExplosionCtx {
  wb: () => Workbench;
  /** The session's workspace: its `.vscode/settings.json` gives these runs their size (removed afterwards). */
  workspace: string;
  runsRoot: string;
}

/**
 * Workspace settings for these runs: the corpus's `e2e` size on the JavaScript (wasm) engine the corpus was trained
 * with. Object settings merge across the user and workspace scopes, so the length is given as steps (15 epochs of
 * 2048 examples in batches of 128: 240), which replace the session's `steps` either way.
 */
const SETTINGS = {
  'fisherLens.backend': 'wasm',
  'fisherLens.presetOverrides': { ...SIZES.e2e, schedule: { steps: 240 } },
};
/** The picker's description once the settings apply: "large-lr · 240 steps · … on wasm …". */
const SIZE_SHOWN = /large-lr · 240 steps · .*\bwasm\b/;

const listRuns = (root: string): string[] => {
  try {
    return fs
      .readdirSync(root, { withFileTypes: true })
      .flatMap((d) => (d.isDirectory() ? [d.name] : []));
  } catch {
    return [];
  }
};
const readJson = (f: string): Record<string, unknown> | undefined => {
  try {
    return JSON.parse(fs.readFileSync(f, 'utf8'));
  } catch {
    return undefined;
  }
};

/** Every notification message on screen (toasts and, when open, the notification center). */
async function notificationTexts(wb: Workbench): Promise<string[]> {
  return wb.page
    .locator('.notification-list-item-message')
    .allInnerTexts()
    .catch(() => []);
}

/** All notifications since they were last cleared: the notification center's list (opened, read, hidden). */
async function notificationCenter(wb: Workbench): Promise<string[]> {
  await wb.runCommand('Notifications: Show Notifications');
  await sleep(300);
  const t = await notificationTexts(wb);
  await wb.runCommand('Notifications: Hide Notifications').catch(() => undefined);
  return t;
}

/** New Run… → preset; any follow-up prompt answered with its default; the new run's id. */
async function newRun(wb: Workbench, root: string, preset: RegExp): Promise<string> {
  const before = new Set(listRuns(root));
  await wb.runCommand(CMD_NEW_RUN);
  await wb.pickQuickItem(preset, 20_000);
  for (let i = 0; i < 3; i++) {
    await sleep(500);
    if (listRuns(root).some((d) => !before.has(d))) break;
    if (await wb.quickInput.isVisible()) await wb.page.keyboard.press('Enter');
  }
  return waitFor('a new run folder', () => listRuns(root).find((d) => !before.has(d)), 60_000, 200);
}

/** Wait for the run to end (status.json), collecting every notification seen meanwhile; the run's summary. */
async function runToEnd(
  wb: Workbench,
  root: string,
  id: string,
  seen: Set<string>,
): Promise<Record<string, unknown>> {
  const dir = path.join(root, id);
  const st = await waitFor(
    `run ${id} ends (status.json)`,
    async () => {
      for (const t of await notificationTexts(wb)) seen.add(t);
      const s = readJson(path.join(dir, 'status.json'));
      return s && ['completed', 'stopped', 'failed', 'diverged'].includes(String(s.state))
        ? s
        : undefined;
    },
    300_000,
    400,
  );
  assert(st.state === 'completed', `run ${id} completed (status.json: ${JSON.stringify(st)})`);
  return waitFor('summary.json', () => readJson(path.join(dir, 'summary.json')), 30_000);
}

export async function explosionTests(
  runner: Runner,
  ctx: ExplosionCtx,
  deps: string[],
): Promise<void> {
  const vsDir = path.join(ctx.workspace, '.vscode');
  const wsSettings = path.join(vsDir, 'settings.json');
  const restore = () => fs.rmSync(wsSettings, { force: true });
  const ids: { large?: string } = {};
  const T_LARGE =
    'explosion warning: the large-LR preset at the e2e size (MLP 256-256, 2048 examples, 15 epochs) raises none';
  await runner.test(
    T_LARGE,
    async () => {
      const w = ctx.wb();
      fs.mkdirSync(vsDir, { recursive: true });
      fs.writeFileSync(wsSettings, JSON.stringify(SETTINGS, null, 2) + '\n');
      // The presets show their size once VS Code has applied the changed settings.
      await waitFor(
        'New Run… shows the presets at 240 steps on wasm',
        async () => {
          await w.runCommand(CMD_NEW_RUN);
          const items = await waitFor(
            'the New Run… presets',
            async () => {
              const t = await w.quickPickItems();
              return t.some((x) => PRESET_LARGE.test(x)) ? t : undefined;
            },
            20_000,
          );
          await w.escapeQuickInput();
          if (items.some((t) => SIZE_SHOWN.test(t))) return true;
          lap(`presets not at the e2e size yet: ${items.find((t) => PRESET_LARGE.test(t))}`);
          return undefined;
        },
        90_000,
        1000,
      );
      await w.runCommand('Notifications: Clear All Notifications');
      ids.large = await newRun(w, ctx.runsRoot, PRESET_LARGE);
      const seen = new Set<string>();
      const sum = await runToEnd(w, ctx.runsRoot, ids.large, seen);
      for (const t of await notificationCenter(w)) seen.add(t);
      lap(`large-LR ${ids.large}: explosion ${sum.explosion}, ${sum.explosionReason}`);
      lap(`notifications: ${JSON.stringify([...seen])}`);
      assert(sum.explosion !== true, `no explosion in the large-LR run (${sum.explosionReason})`);
      const warned = [...seen].filter((t) => /Fisher explosion in/.test(t));
      assert(
        warned.length === 0,
        `no explosion warning for the large-LR run (got ${JSON.stringify(warned)})`,
      );
    },
    deps,
  );

  const T_SMALL =
    'explosion warning: the small-LR preset at the same size warns, naming the large-LR run it was compared with';
  await runner.test(T_SMALL, async () => {
    const w = ctx.wb();
    try {
      await w.runCommand('Notifications: Clear All Notifications');
      const id = await newRun(w, ctx.runsRoot, PRESET_SMALL);
      const seen = new Set<string>();
      const sum = await runToEnd(w, ctx.runsRoot, id, seen);
      lap(`small-LR ${id}: explosion ${sum.explosion}, ${sum.explosionReason}`);
      const warning = await waitFor(
        'the "Fisher explosion in small-lr" warning',
        async () => {
          for (const t of await notificationCenter(w)) seen.add(t);
          return [...seen].find((t) => /Fisher explosion in small-lr/.test(t));
        },
        30_000,
        1000,
      );
      lap(`warning: ${warning}`);
      assert(sum.explosion === true, `summary.json: explosion (${sum.explosionReason})`);
      assert(
        warning.includes(ids.large!),
        `the warning names the reference run ${ids.large} (got "${warning}")`,
      );
      assert(
        /early peak .* at step \d+ is [\d.]+× /.test(warning),
        `the warning prints the early peak and its size (got "${warning}")`,
      );
    } finally {
      restore();
    }
  }, [T_LARGE]);
  restore();
}
