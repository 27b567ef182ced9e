/**
 * Screenshots of real runs in a real VS Code (code-server 4.96.4 + Chromium, through test/e2e/harness.ts), for
 * the README: `monitor.png` (the monitor of one run), `compare.png` (Compare Runs… over several runs) and
 * `runs-table.png` (the Runs Table over every run of DIR, with its parallel-coordinates chart).
 *
 *   node --import tsx scripts/screenshots.ts --runs DIR [--monitor RUN_ID] [--compare ID1,ID2,...] [--table] [--out docs/images]
 *                                            [--viewport 1400x900] [--vsix FILE] [--keep]
 *
 * A fresh session (user data, extensions, empty workspace) with the packaged .vsix installed and the user setting
 * `fisherLens.runsDirectory` = DIR (absolute); the runs are read from DIR as they are: nothing is hidden, nothing
 * is faked. The monitor is opened like a person would (F1 → "Fisher Lens: Open Monitor" → the run), the script
 * waits until its Tr(F) chart holds every Tr(F) point of events.jsonl (a live run: at least one) and scrolls the
 * webview so the Tr(F) chart and the clean vs noisy-label chart are both in view when they fit (else it stays at
 * the top). Compare Runs… ticks the given runs in its multi-select quick pick and waits for the legend, the
 * summary table (a row per run) and the charts, and shoots the top of the view. --table opens "Fisher Lens: Runs
 * Table" and waits for a row per run folder and a line per run in its parallel-coordinates chart. Viewport 1400×900 unless --viewport.
 *
 * The .vsix: --vsix FILE, else <repo>/fisher-lens.vsix when it is newer than the last commit and than every file
 * it is built from, else `npm run package` builds it. Every wait is bounded; code-server is always stopped.
 * On failure the session folder is kept and printed: failure.png (the screen at that moment), server.log,
 * user/logs/ (extension host, the extension's output channel). Exit status 0 on success, 1 on any error, 2 on bad usage.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import {
  BASE_SETTINGS,
  Browse,
  CodeServer,
  CODE_SERVER,
  freePort,
  installExtension,
  lap,
  newSession,
  REPO,
  sleep,
  TERMINAL,
  waitFor,
  waitForWebviewFrame,
  Workbench,
  type Session,
} from '../test/e2e/harness';

const CMD_OPEN_MONITOR = 'Fisher Lens: Open Monitor';
const CMD_COMPARE = 'Fisher Lens: Compare Runs…';
const SEL = {
  chartTrf: '#chart-trf',
  chartNoise: '#chart-noise',
  runState: '#run-state',
  toolbar: 'header.toolbar',
  legend: '#compare-legend',
  legendItem: '#compare-legend .legend-item',
  summary: '#summary-table',
};

// ------------------------------------------------------------------------------------------------ arguments

interface Args {
  runs: string;
  monitor?: string;
  compare: string[];
  table: boolean;
  out: string;
  vsix?: string;
  keep: boolean;
  viewport: { width: number; height: number };
}

class UsageError extends Error {}

const USAGE =
  'usage: node --import tsx scripts/screenshots.ts --runs DIR [--monitor RUN_ID] [--compare ID1,ID2,...] [--table] [--out docs/images] [--viewport 1400x900] [--vsix FILE] [--keep]';

function parseArgs(argv: string[]): Args {
  const a: Partial<Args> & { compare: string[]; keep: boolean; table: boolean } = {
    compare: [],
    keep: false,
    table: false,
  };
  let viewport = '1400x900';
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--runs':
        a.runs = value();
        break;
      case '--monitor':
        a.monitor = value();
        break;
      case '--compare':
        a.compare = value()
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case '--out':
        a.out = value();
        break;
      case '--vsix':
        a.vsix = value();
        break;
      case '--keep':
        a.keep = true;
        break;
      case '--table':
        a.table = true;
        break;
      case '--viewport':
        viewport = value();
        break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  if (!a.runs) throw new UsageError('--runs DIR is required');
  if (!a.monitor && !a.compare.length && !a.table)
    throw new UsageError(
      'nothing to do: give --monitor RUN_ID, --compare ID1,ID2,... and/or --table',
    );
  if (a.compare.length === 1) throw new UsageError('--compare needs at least two run ids');
  if (new Set(a.compare).size !== a.compare.length)
    throw new UsageError('--compare lists a run twice');
  const vp = /^(\d{3,4})x(\d{3,4})$/.exec(viewport);
  if (!vp)
    throw new UsageError(
      `--viewport: expected WIDTHxHEIGHT (e.g. 1400x900), got ${JSON.stringify(viewport)}`,
    );
  const runs = path.resolve(a.runs);
  if (!fs.statSync(runs, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError(`--runs: ${runs} is not a directory`);
  const known = fs
    .readdirSync(runs, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
  for (const id of [a.monitor, ...a.compare].filter((x): x is string => !!x)) {
    if (!known.includes(id))
      throw new UsageError(
        `run "${id}" is not a folder of ${runs}; runs there: ${known.join(', ') || '(none)'}`,
      );
    if (!fs.existsSync(path.join(runs, id, 'events.jsonl')))
      throw new UsageError(`run "${id}" has no events.jsonl in ${path.join(runs, id)}`);
  }
  return {
    runs,
    monitor: a.monitor,
    compare: a.compare,
    table: a.table,
    out: path.resolve(a.out ?? path.join(REPO, 'docs/images')),
    vsix: a.vsix ? path.resolve(a.vsix) : undefined,
    keep: a.keep,
    viewport: { width: Number(vp[1]), height: Number(vp[2]) },
  };
}

// ----------------------------------------------------------------------------------------------------- .vsix

/** Newest mtime (ms) among the files the .vsix is built from. */
function newestSource(): number {
  let newest = 0;
  const walk = (p: string) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of [
    'src',
    'webview',
    'media',
    'schemas',
    'bin',
    'scripts/build.mjs',
    'package.json',
    'package-lock.json',
    '.vscodeignore',
    'README.md',
    'LICENSE',
  ])
    walk(path.join(REPO, p));
  return newest;
}

function ensureVsix(explicit?: string): string {
  if (explicit) {
    if (!fs.existsSync(explicit)) throw new Error(`--vsix ${explicit} does not exist`);
    return explicit;
  }
  const vsix = path.join(REPO, 'fisher-lens.vsix');
  const st = fs.statSync(vsix, { throwIfNoEntry: false });
  let lastCommit = 0;
  try {
    lastCommit =
      Number(
        execFileSync('git', ['-C', REPO, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).trim(),
      ) * 1000;
  } catch {
    /* not a git checkout: sources' mtimes decide */
  }
  const need = Math.max(lastCommit, newestSource());
  if (st && st.mtimeMs > need) {
    lap(
      `reusing ${path.relative(REPO, vsix)} (built ${st.mtime.toISOString()}, newer than the last commit and the sources)`,
    );
    return vsix;
  }
  lap(
    `${st ? 'fisher-lens.vsix is older than the sources or the last commit' : 'no fisher-lens.vsix'}: npm run package`,
  );
  const r = spawnSync('npm', ['run', 'package'], { cwd: REPO, encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0 || !fs.existsSync(vsix)) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new Error(
      `npm run package failed (status ${r.status}${r.error ? ', ' + r.error.message : ''}):\n${out}`,
    );
  }
  lap(`built ${path.relative(REPO, vsix)}`);
  return vsix;
}

// ---------------------------------------------------------------------------------------------- UI helpers

const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactLabel = (id: string) => new RegExp(`^\\s*${reEsc(id)}\\s*$`);

/** The quick-pick row whose label is exactly `id`, after typing `id` into the filter box. */
async function filterToRow(wb: Workbench, id: string, timeoutMs: number) {
  await wb.quickInputBox.fill(id);
  const row = wb.quickRows
    .filter({ has: wb.page.locator('.label-name', { hasText: exactLabel(id) }) })
    .first();
  try {
    await row.waitFor({ state: 'visible', timeout: timeoutMs });
  } catch {
    throw new Error(
      `no quick-pick item labelled "${id}"; visible items: ${JSON.stringify(await wb.quickPickItems())}`,
    );
  }
  return row;
}

/**
 * Runs `command` from the palette and waits for its run quick pick. Runs are read from the runs folder after the
 * extension activates: a command run too early says "No runs yet" (an information message) and shows no quick
 * pick, so that is retried until `timeoutMs`.
 */
async function runPickingCommand(wb: Workbench, command: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    await wb.runCommand(command, Math.max(5000, end - Date.now()));
    const shown = await waitFor(
      `the quick pick of "${command}"`,
      async () => (await wb.quickInput.isVisible()) && (await wb.quickRows.count()) > 0,
      5000,
      100,
    ).catch(() => false);
    if (shown) return;
    const toasts = await wb.page
      .locator('.notifications-toasts .notification-toast')
      .allInnerTexts()
      .catch(() => []);
    if (Date.now() > end)
      throw new Error(
        `"${command}" showed no run quick pick within ${timeoutMs / 1000}s; notifications: ${JSON.stringify(toasts)}`,
      );
    lap(
      `"${command}" showed no quick pick yet (attempt ${attempt}; notifications: ${JSON.stringify(toasts).slice(0, 200)}), retrying`,
    );
    await sleep(1500);
  }
}

/** Puts the mouse where it hovers nothing that reacts (empty tab-bar space; no chart cursor, no tooltip). */
async function parkMouse(page: Page): Promise<void> {
  const spot = await page
    .evaluate(() => {
      const bar = document.querySelector(
        '.editor-group-container.active .tabs-and-actions-container',
      ) as HTMLElement | null;
      if (!bar) return null;
      const r = bar.getBoundingClientRect();
      const tabs = [...bar.querySelectorAll('.tab')].map((t) => t.getBoundingClientRect().right);
      const actions = bar.querySelector('.editor-actions')?.getBoundingClientRect().left ?? r.right;
      const x = Math.max(...tabs, r.left) + 40;
      return x < actions - 10 ? { x, y: r.top + r.height / 2 } : null;
    })
    .catch(() => null);
  await page.mouse.move(spot?.x ?? 700, spot?.y ?? 5);
  await sleep(300);
}

async function visibleToasts(page: Page): Promise<string[]> {
  return page
    .locator('.notifications-toasts .notification-toast')
    .allInnerTexts()
    .then((ts) => ts.map((t) => t.replace(/\s+/g, ' ').trim()).filter(Boolean))
    .catch(() => []);
}

async function shoot(page: Page, file: string): Promise<void> {
  await parkMouse(page);
  const toasts = await visibleToasts(page);
  if (toasts.length)
    lap(`note: notification(s) visible in the screenshot: ${JSON.stringify(toasts)}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await page.screenshot({ path: file, timeout: 15_000 });
  lap(`wrote ${file}`);
}

function fisherPointsIn(runs: string, id: string): number {
  const text = fs.readFileSync(path.join(runs, id, 'events.jsonl'), 'utf8');
  return text.split('\n').filter((l) => /"type"\s*:\s*"fisher"/.test(l)).length;
}

// ------------------------------------------------------------------------------------------------- monitor

async function monitorShot(wb: Workbench, args: Args, id: string, file: string): Promise<void> {
  const page = wb.page;
  await runPickingCommand(wb, CMD_OPEN_MONITOR, 60_000);
  const row = await filterToRow(wb, id, 10_000);
  await row.click();
  lap(`quick pick: opened the monitor of ${id}`);
  await wb.quickInput.waitFor({ state: 'hidden', timeout: 10_000 });

  const expected = fisherPointsIn(args.runs, id);
  let frame = await waitForWebviewFrame(page, `${SEL.chartTrf}`, 60_000);
  const runIdOf = (f: Frame) =>
    f.evaluate(() => (document.getElementById('run-id')?.textContent ?? '').trim());
  // the monitor of *this* run (another monitor may exist in a later version of the flow)
  frame = await waitFor(
    `the monitor webview of ${id}`,
    async () => {
      const f = await waitForWebviewFrame(page, SEL.chartTrf, 10_000);
      return (await runIdOf(f)) === id ? f : undefined;
    },
    30_000,
    300,
  );
  lap(`monitor webview of ${id} found; waiting for its ${expected} Tr(F) point(s)`);

  const sample = (f: Frame) =>
    f.evaluate(
      ([trf, st]) => ({
        points: Number(document.querySelector(trf)?.getAttribute('data-points') ?? NaN),
        state: (document.querySelector(st)?.textContent ?? '').trim().toLowerCase(),
        canvases: document.querySelectorAll(`${trf} canvas`).length,
        evals: document.querySelectorAll('.chart canvas').length,
      }),
      [SEL.chartTrf, SEL.runState] as const,
    );
  const s = await waitFor(
    `the Tr(F) chart of ${id} filled (data-points ≥ ${Math.max(1, expected)}, a state, a canvas)`,
    async () => {
      let smp;
      try {
        smp = await sample(frame);
      } catch {
        frame = await waitForWebviewFrame(page, SEL.chartTrf, 10_000); // re-created webview: find it again
        smp = await sample(frame);
      }
      const live = !TERMINAL.some((t) => smp.state.includes(t));
      const enough = live ? smp.points > 0 : smp.points >= expected;
      return enough && smp.canvases > 0 && !/^(loading|waiting)?$/.test(smp.state)
        ? smp
        : undefined;
    },
    60_000,
    300,
  );
  lap(`monitor: ${s.points} Tr(F) points, state "${s.state}"`);
  if (s.points === 0) throw new Error(`the Tr(F) chart of ${id} has no points`);

  // let the other charts and the markers paint (one animation frame is enough; fonts may take longer)
  await frame.evaluate(() => document.fonts?.ready.then(() => undefined));
  await sleep(800);

  // scroll: Tr(F) and clean-vs-noisy both in view if they fit below the sticky toolbar, else stay at the top
  const geo = await frame.evaluate(
    ([trf, noise, bar]) => {
      const r = (sel: string) => {
        const b = document.querySelector(sel)?.getBoundingClientRect();
        return b ? { top: b.top + window.scrollY, bottom: b.bottom + window.scrollY } : null;
      };
      return {
        trf: r(trf),
        noise: r(noise),
        bar: r(bar),
        viewport: window.innerHeight,
        scrollMax: document.documentElement.scrollHeight - window.innerHeight,
      };
    },
    [SEL.chartTrf, SEL.chartNoise, SEL.toolbar] as const,
  );
  lap(`monitor geometry: ${JSON.stringify(geo)}`);
  let scrollTo = 0;
  if (geo.trf && geo.noise && geo.bar) {
    const barH = geo.bar.bottom - geo.bar.top;
    const room = geo.viewport - barH;
    const span = Math.max(geo.trf.bottom, geo.noise.bottom) - Math.min(geo.trf.top, geo.noise.top);
    const above = geo.trf.top - barH - 8; // scroll that puts the Tr(F) chart right under the toolbar
    if (geo.noise.bottom <= geo.viewport)
      scrollTo = 0; // both visible at the top already
    else if (span + 8 <= room)
      scrollTo = Math.max(
        0,
        Math.min(
          above,
          geo.scrollMax,
          Math.max(geo.trf.bottom, geo.noise.bottom) - geo.viewport + 8,
        ),
      );
    else
      lap(
        `the Tr(F) chart and the clean/noisy chart do not fit together (${Math.round(span)} px, ${Math.round(room)} px free): screenshot at the top`,
      );
  }
  if (scrollTo > 0) {
    await frame.evaluate((y) => window.scrollTo(0, y), scrollTo);
    await sleep(400);
    lap(`monitor scrolled to y=${Math.round(scrollTo)}`);
  }
  await shoot(page, file);
}

// ------------------------------------------------------------------------------------------------- compare

async function compareShot(wb: Workbench, ids: string[], file: string): Promise<void> {
  const page = wb.page;
  await runPickingCommand(wb, CMD_COMPARE, 60_000);
  for (const id of ids) {
    const row = await filterToRow(wb, id, 10_000);
    const checked = () => row.getAttribute('aria-checked').then((a) => a === 'true');
    if (!(await checked())) {
      const box = row.locator('input[type=checkbox], .quick-input-list-checkbox').first();
      if (await box.count()) await box.click();
      else await row.click();
    }
    await waitFor(`quick-pick item ${id} ticked`, checked, 5000, 100);
    lap(`quick pick: ticked ${id}`);
  }
  await wb.quickInputBox.fill('');
  // the rows ticked now (first .label-name of a row is its label; the detail line has one too)
  const ticked = await wb.quickRows.evaluateAll((rows) =>
    rows
      .filter((r) => r.getAttribute('aria-checked') === 'true')
      .map((r) => (r.querySelector('.label-name')?.textContent ?? '').trim()),
  );
  const extra = ticked.filter((t) => !ids.includes(t));
  if (extra.length)
    throw new Error(`Compare Runs… has other runs ticked too: ${JSON.stringify(extra)}`);
  const ok = page
    .locator(
      '.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget .quick-input-ok .monaco-button',
    )
    .first();
  if (await ok.isVisible().catch(() => false)) await ok.click();
  else await page.keyboard.press('Enter');
  await wb.quickInput.waitFor({ state: 'hidden', timeout: 10_000 });

  let frame = await waitForWebviewFrame(page, SEL.legend, 60_000);
  const legend = await waitFor(
    `every run in ${SEL.legendItem}`,
    async () => {
      const texts = await frame
        .$$eval(SEL.legendItem, (els) => els.map((e) => (e.textContent ?? '').trim()))
        .catch(async (e) => {
          frame = await waitForWebviewFrame(page, SEL.legend, 10_000);
          throw e;
        });
      return ids.every((id) => texts.some((t) => t.includes(id))) ? texts : undefined;
    },
    30_000,
  );
  lap(`compare legend: ${JSON.stringify(legend)}`);
  if (legend.length !== ids.length)
    throw new Error(
      `the compare legend lists ${legend.length} runs, expected ${ids.length}: ${JSON.stringify(legend)}`,
    );
  const rows = await waitFor(
    `a row per run in ${SEL.summary}`,
    async () => {
      const rs = await frame.$$eval(`${SEL.summary} tbody tr`, (trs) =>
        trs.map((tr) =>
          Array.from((tr as HTMLTableRowElement).cells).map((td) => (td.textContent ?? '').trim()),
        ),
      );
      return ids.every((id) => rs.some((r) => r[0] === id)) ? rs : undefined;
    },
    60_000,
  );
  const head = await frame.$$eval(`${SEL.summary} thead th`, (ths) =>
    ths.map((th) => (th.textContent ?? '').trim()),
  );
  lap(`summary table: ${JSON.stringify(head)}`);
  for (const r of rows) lap(`  ${JSON.stringify(r)}`);
  const canvases = await waitFor(
    'the compare charts drawn',
    () => frame.$$eval('#compare-charts canvas', (cs) => cs.length),
    30_000,
  );
  lap(`compare: ${canvases} canvas elements`);
  await frame.evaluate(() => document.fonts?.ready.then(() => undefined));
  await sleep(800);
  await shoot(page, file);
}

// ---------------------------------------------------------------------------------------------- runs table

async function tableShot(wb: Workbench, runs: string, file: string): Promise<void> {
  const ids = fs
    .readdirSync(runs, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(runs, d.name, 'status.json')))
    .map((d) => d.name);
  await wb.runCommand('Fisher Lens: Runs Table', 60_000);
  const frame = await waitForWebviewFrame(wb.page, '#runs-table', 60_000);
  const got = await waitFor(
    `a row per run (${ids.length}) and a parallel-coordinates line per run`,
    async () => {
      const n = await frame.$$eval('#runs-table tbody tr', (r) => r.length);
      const lines = await frame.$$eval('#parallel svg path.run', (p) => p.length);
      return n >= ids.length && lines >= ids.length ? { rows: n, lines } : undefined;
    },
    60_000,
    300,
  );
  lap(`runs table: ${JSON.stringify(got)}`);
  await frame.evaluate(() => document.fonts?.ready.then(() => undefined));
  await sleep(800);
  await shoot(wb.page, file);
}

// ---------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`screenshots: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (!fs.existsSync(CODE_SERVER))
    throw new Error(
      `code-server not found at ${CODE_SERVER}: run bash test/e2e/install.sh (or set E2E_CODE_SERVER)`,
    );
  const vsix = ensureVsix(args.vsix);

  const session: Session = newSession({ ...BASE_SETTINGS, 'fisherLens.runsDirectory': args.runs });
  lap(`session ${session.dir} (runs: ${args.runs}; out: ${args.out})`);
  let cs: CodeServer | undefined;
  let b: Browse | undefined;
  let ok = false;
  try {
    installExtension(session, vsix);
    cs = new CodeServer(session, await freePort());
    await cs.start();
    lap(`code-server on ${cs.url}`);
    b = await Browse.launch();
    await b.page.setViewportSize(args.viewport);
    const wb = new Workbench(b.page);
    await wb.open(cs.url);
    await b.page
      .locator('.part.activitybar [aria-label^="Fisher Lens"]')
      .first()
      .waitFor({ state: 'visible', timeout: 60_000 })
      .catch(() => {
        throw new Error(
          'the Fisher Lens activity-bar container did not appear: is the extension installed and activating? (see server.log)',
        );
      });
    // the Runs tree of the runs folder in the side bar (what the user sees next to the monitor)
    await wb.showActivityContainer('Fisher Lens');

    if (args.monitor) await monitorShot(wb, args, args.monitor, path.join(args.out, 'monitor.png'));
    if (args.compare.length)
      await compareShot(wb, args.compare, path.join(args.out, 'compare.png'));
    if (args.table) await tableShot(wb, args.runs, path.join(args.out, 'runs-table.png'));

    const errs = b.reports('error').ours;
    if (errs.length) lap(`WARNING: uncaught error(s) in Fisher Lens webviews: ${errs.join(' | ')}`);
    ok = true;
  } catch (e) {
    lap(`ERROR: ${(e as Error).message}`);
    if (b) {
      await shootQuiet(b.page, path.join(session.dir, 'failure.png'));
    }
    throw e;
  } finally {
    await b?.close();
    await cs?.stop();
    if (ok && !args.keep) fs.rmSync(session.dir, { recursive: true, force: true });
    else lap(`session kept: ${session.dir} (server.log, user/logs/)`);
  }
  return 0;
}

async function shootQuiet(page: Page, file: string): Promise<void> {
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await page.screenshot({ path: file, timeout: 10_000 });
    lap(`failure screenshot: ${file}`);
  } catch (e) {
    lap(`(no failure screenshot: ${(e as Error).message.split('\n')[0]})`);
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`screenshots: ${(e as Error)?.stack ?? e}`);
    process.exit(1);
  },
);
