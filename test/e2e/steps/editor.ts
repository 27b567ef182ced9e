/**
 * Editor integration end to end (part of fisher-lens.e2e.ts): Reveal Run Folder in code-server (the Explorer
 * selects the run's config.json: revealFileInOS would do nothing here), config problems in the Problems panel
 * (an open config with both `steps` and `epochs`; a config the trainer refuses at run time), Export Run (files in
 * the default export folder, not the workspace root; the PNG in a light theme, full width, although the editor
 * is dark), and a queued run surviving a window reload (fisherLens.maxConcurrentRuns 1): still queued after the
 * reload, started once the running one is stopped, never two at once, its monitor not stuck at "queued"; the
 * Runs Table is restored by the reload; the status bar shows the ETA while a run trains.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Frame } from 'playwright-core';
import {
  assert,
  findWebviewFrame,
  lap,
  TERMINAL,
  waitFor,
  type Runner,
  type Workbench,
} from '../harness';
import {
  pickRunRow,
  pngInfo,
  reEsc,
  runDir,
  setTheme,
  statusOf,
  themeKind,
  type StepsCtx,
} from './common';

const BOTH_FILE = 'both-steps-epochs.fisher.json';
const REFUSED_FILE = 'missing-data.fisher.json';
const MISSING_DATA = '/nonexistent/fisher-lens-e2e-data';

/** Open a workspace file in an editor through Quick Open (again while its index does not list a new file yet). */
async function openFile(wb: Workbench, name: string): Promise<void> {
  const re = new RegExp(reEsc(name));
  await waitFor(
    `Quick Open lists ${name}`,
    async () => {
      await wb.escapeQuickInput();
      await wb.page.keyboard.press('Control+P');
      await wb.quickInput.waitFor({ state: 'visible', timeout: 10_000 });
      await wb.quickInputBox.fill(name);
      const row = wb.quickRows.filter({ hasText: re }).first();
      return row
        .waitFor({ state: 'visible', timeout: 3000 })
        .then(() => true)
        .catch(() => false);
    },
    60_000,
    500,
  );
  await wb.pickQuickItem(re, 20_000);
  await wb.page
    .locator('.tab.active', { hasText: name })
    .waitFor({ state: 'visible', timeout: 20_000 });
}

/** The Problems panel's rows (opened with its keybinding when hidden). */
async function problemRows(wb: Workbench): Promise<string[]> {
  const panel = wb.page.locator('.markers-panel').first();
  if (!(await panel.isVisible().catch(() => false))) {
    await wb.page.keyboard.press('Control+Shift+M');
    await panel.waitFor({ state: 'visible', timeout: 10_000 });
  }
  return panel
    .locator('.monaco-list-row')
    .evaluateAll((rs) => rs.map((r) => (r as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
}

async function monitorFrameOf(wb: Workbench, id: string, timeoutMs: number): Promise<Frame> {
  return waitFor(
    `the monitor of ${id}`,
    async () => {
      const f = await findWebviewFrame(wb.page, '#chart-trf');
      const shown = await f?.$eval('#run-id', (e) => (e.textContent ?? '').trim()).catch(() => '');
      return f && shown === id ? f : undefined;
    },
    timeoutMs,
    300,
  );
}

const monitorState = (f: Frame) =>
  f.evaluate(() => ({
    state: (document.getElementById('run-state')?.textContent ?? '').trim().toLowerCase(),
    stopDisabled: document.getElementById('stop-button')?.hasAttribute('disabled') ?? null,
  }));

/** The two configs of the Problems step (written early: Quick Open's file index must list them). */
function writeProblemConfigs(ws: string): void {
  fs.writeFileSync(
    path.join(ws, BOTH_FILE),
    JSON.stringify(
      {
        name: 'both',
        dataset: { name: 'mnist', trainSize: 1024, testSize: 256 },
        model: { arch: 'mlp', hidden: [64] },
        schedule: { steps: 100, epochs: 2 },
      },
      null,
      2,
    ) + '\n',
  );
  fs.writeFileSync(
    path.join(ws, REFUSED_FILE),
    JSON.stringify(
      {
        name: 'missing-data',
        dataset: { name: 'mnist', path: MISSING_DATA, trainSize: 1024, testSize: 256 },
        model: { arch: 'mlp', hidden: [64] },
        schedule: { steps: 50 },
      },
      null,
      2,
    ) + '\n',
  );
}

export async function editorTests(runner: Runner, c: StepsCtx, dependsOn: string[]): Promise<void> {
  writeProblemConfigs(c.session.workspace);
  const T_REVEAL =
    "Reveal Run Folder in code-server: the Explorer shows and selects the run's config.json";
  await runner.test(
    T_REVEAL,
    async () => {
      const wb = c.wb();
      const id = c.ids.second!;
      await wb.runCommand('Fisher Lens: Reveal Run Folder');
      await pickRunRow(wb, id);
      const sel = await waitFor(
        'config.json selected in the Explorer',
        async () => {
          const rows = await wb.page
            .locator(
              '.explorer-folders-view .monaco-list-row.selected, .explorer-folders-view .monaco-list-row.focused',
            )
            .evaluateAll((rs) =>
              rs.map((r) => r.getAttribute('aria-label') ?? (r as HTMLElement).innerText),
            );
          return rows.some((r) => /config\.json/.test(r)) ? rows : undefined;
        },
        30_000,
        300,
      );
      lap(`explorer selection: ${JSON.stringify(sel)}`);
      const parents = await wb.page
        .locator('.explorer-folders-view .monaco-list-row')
        .evaluateAll((rs) => rs.map((r) => (r as HTMLElement).innerText.trim()));
      assert(
        parents.includes(id),
        `the run folder ${id} is expanded in the Explorer (${parents.join(', ')})`,
      );
      await c.browse().screenshot('reveal-explorer');
    },
    dependsOn,
  );

  const T_PROBLEMS =
    'Problems panel: an open config with both steps and epochs is flagged; a config the trainer refuses at run time lands there too';
  await runner.test(
    T_PROBLEMS,
    async () => {
      const wb = c.wb();
      const ws = c.session.workspace;
      writeProblemConfigs(ws);
      await openFile(wb, BOTH_FILE);
      const both = await waitFor(
        'the steps-and-epochs problem in the Problems panel',
        async () => {
          const rows = await problemRows(wb);
          return rows.some((r) => /got both schedule\.epochs/.test(r)) ? rows : undefined;
        },
        30_000,
        500,
      );
      lap(`problems: ${JSON.stringify(both)}`);
      await c.browse().screenshot('problems-steps-epochs');
      // The trainer refuses a missing data folder (exit 2): the reason lands on the file too.
      await openFile(wb, REFUSED_FILE);
      const runsBefore = new Set(fs.existsSync(runDir(c, '')) ? fs.readdirSync(runDir(c, '')) : []);
      await wb.runCommand('Fisher Lens: Run Config File');
      const refused = await waitFor(
        'the run-time refusal in the Problems panel',
        async () => {
          const rows = await problemRows(wb);
          return rows.some((r) => r.includes('dataset.path') && r.includes('does not exist'))
            ? rows
            : undefined;
        },
        90_000,
        500,
      );
      lap(`problems after the refused run: ${JSON.stringify(refused)}`);
      assert(
        refused.some((r) => r.includes(REFUSED_FILE)),
        `the refusal is listed under ${REFUSED_FILE} (${JSON.stringify(refused)})`,
      );
      const id = fs
        .readdirSync(runDir(c, ''))
        .find((d) => !runsBefore.has(d) && d.includes('missing'));
      if (id) {
        const st = statusOf(c, id);
        lap(`refused run ${id}: ${JSON.stringify(st)}`);
        assert(st?.state === 'failed', `the refused run is failed (${st?.state})`);
      }
      await c.browse().screenshot('problems-refused');
      await wb.page.keyboard.press('Control+Shift+M'); // hide the panel again
    },
    dependsOn,
  );

  const T_EXPORT =
    'Export Run → default folder: CSV, TensorBoard and a PNG in <workspace>/fisher-lens-exports/<run>/ (not the root); the PNG is light although the editor is dark, full width';
  await runner.test(
    T_EXPORT,
    async () => {
      const wb = c.wb();
      const id = c.ids.second!;
      const out = path.join(c.session.workspace, 'fisher-lens-exports', id);
      // Dark editor (an earlier step may have left the light theme on after a failure).
      if ((await themeKind(wb)) !== 'dark') await setTheme(wb, 'dark');
      await wb.runCommand('Fisher Lens: Export Run');
      await pickRunRow(wb, id);
      // The formats: all three ticked by default; accepted as they are (the folder picker follows in the same widget).
      const ticked = await waitFor(
        'the export formats, all ticked',
        async () => {
          const rows = await wb.quickRows.evaluateAll((rs) =>
            rs.map((r) => [
              (r as HTMLElement).innerText.replace(/\s+/g, ' ').trim(),
              r.getAttribute('aria-checked') === 'true' ||
                !!r.querySelector<HTMLInputElement>('input[type=checkbox]')?.checked,
            ]),
          );
          return rows.length === 3 && rows.every((r) => r[1] === true) ? rows : undefined;
        },
        20_000,
        200,
      );
      lap(`export formats: ${JSON.stringify(ticked)}`);
      await wb.quickInputBox.press('Enter');
      await wb.pickQuickItem(/fisher-lens-exports/);
      const png = path.join(out, `${id}.png`);
      await waitFor(
        `${png} written`,
        () => fs.existsSync(png) && fs.statSync(png).size > 1000,
        90_000,
        500,
      );
      const files = fs.readdirSync(out);
      lap(`exported: ${files.join(', ')}`);
      assert(files.includes(`${id}.csv`), 'the CSV is there');
      assert(
        files.some((f) => f.startsWith('events.out.tfevents')),
        'the TensorBoard file is there',
      );
      assert(
        !fs.readdirSync(c.session.workspace).some((f) => f.endsWith('.png') || f.endsWith('.csv')),
        'nothing written to the workspace root',
      );
      const info = pngInfo(fs.readFileSync(png));
      lap(`PNG ${info.width}×${info.height}, top-left pixel rgb(${info.topLeft.join(', ')})`);
      assert((await themeKind(wb)) === 'dark', 'the editor is in a dark theme during the export');
      assert(
        info.topLeft.every((v) => v >= 230),
        `the PNG background is light (top-left rgb(${info.topLeft.join(', ')}))`,
      );
      assert(
        info.width >= 800 && info.height > info.width / 4,
        `a full-width PNG (${info.width}×${info.height})`,
      );
      // The notification's Reveal shows the file in the Explorer (the export folder is in the workspace).
      const reveal = wb.page
        .locator('.notifications-toasts .notification-toast', { hasText: `Exported ${id}` })
        .locator('.monaco-button', { hasText: 'Reveal' })
        .first();
      await reveal.waitFor({ state: 'visible', timeout: 20_000 });
      await reveal.click();
      await waitFor(
        `an exported file (the first written: the CSV) selected in the Explorer`,
        async () =>
          (
            await wb.page
              .locator(
                '.explorer-folders-view .monaco-list-row.selected, .explorer-folders-view .monaco-list-row.focused',
              )
              .evaluateAll((rs) => rs.map((r) => r.getAttribute('aria-label') ?? ''))
          ).some((l) => new RegExp(`^${reEsc(id)}\\.(csv|png)`).test(l)),
        20_000,
        300,
      );
    },
    dependsOn,
  );

  const T_QUEUE =
    'fisherLens.maxConcurrentRuns 1: a queued run survives a window reload, starts once the running one is stopped (never two at once); its monitor is not stuck at "queued"; the Runs Table is restored; ETA in the status bar';
  await runner.test(
    T_QUEUE,
    async () => {
      const wb = c.wb();
      const vsDir = path.join(c.session.workspace, '.vscode');
      const wsSettings = path.join(vsDir, 'settings.json');
      fs.mkdirSync(vsDir, { recursive: true });
      // Written well before the second launch (the first run trains meanwhile): VS Code applies it in about a second.
      fs.writeFileSync(
        wsSettings,
        JSON.stringify({ 'fisherLens.maxConcurrentRuns': 1 }, null, 2) + '\n',
      );
      let long: string | undefined;
      try {
        long = await c.newRun(new RegExp(reEsc(c.longFile)));
        const mon = await monitorFrameOf(wb, long, 60_000);
        await waitFor(
          'the long run training',
          async () => {
            const pts = Number(
              await mon
                .$eval('#chart-trf', (e) => (e as HTMLElement).dataset.points)
                .catch(() => 0),
            );
            return pts >= 2 && statusOf(c, long!)?.state === 'running';
          },
          120_000,
          300,
        );
        const bar = await waitFor(
          'ETA in the status bar',
          async () => {
            const t = await wb.page.locator('.statusbar').innerText();
            return /Tr\(F\)[^\n]*ETA \S+/.test(t)
              ? t.split('\n').find((l) => /ETA/.test(l))
              : undefined;
          },
          30_000,
          300,
        );
        lap(`status bar: ${bar}`);
        const queued = await c.newRun(c.smallPreset);
        await c.waitTreeState(queued, 'queued', 30_000);
        assert(statusOf(c, queued)?.state === 'queued', `${queued} is queued on disk`);
        // Reload the window (the browser page: code-server's window).
        lap('reloading the window');
        await wb.page.reload({ waitUntil: 'domcontentloaded', timeout: 60_000 });
        await wb.page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
        await wb.page
          .locator('.part.activitybar [aria-label^="Fisher Lens"]')
          .first()
          .waitFor({ state: 'visible', timeout: 60_000 });
        let overlap = false;
        const watch = () => {
          if (statusOf(c, queued)?.state === 'running' && statusOf(c, long!)?.state === 'running')
            overlap = true;
        };
        const row = await c.waitTreeState(queued, 'queued', 60_000);
        watch();
        lap(`after the reload, ${queued}: ${JSON.stringify(row)}`);
        assert(fs.existsSync(runDir(c, queued)), 'the queued run folder is still there');
        // The Runs Table was open: restored by the reload.
        await wb.page
          .locator('.tabs-container .tab', { hasText: /Fisher Lens: runs/ })
          .first()
          .waitFor({ state: 'visible', timeout: 30_000 });
        lap('the Runs Table tab is restored');
        // Stop the long run: the queued one starts then, and completes.
        await wb.runCommand('Fisher Lens: Stop Run');
        await pickRunRow(wb, long);
        await c.waitTreeState(long, 'stopped', 60_000);
        watch();
        await waitFor(
          `${queued} leaves the queue`,
          () => {
            watch();
            const s = statusOf(c, queued)?.state;
            return s && s !== 'queued' ? s : undefined;
          },
          120_000,
          300,
        );
        await wb.runCommand('Fisher Lens: Open Monitor');
        await pickRunRow(wb, queued);
        const qm = await monitorFrameOf(wb, queued, 60_000);
        const end = await waitFor(
          `${queued} completed in its monitor`,
          async () => {
            watch();
            const m = await monitorState(qm);
            if (TERMINAL.some((t) => m.state.includes(t) && t !== 'completed'))
              throw Object.assign(new Error(`${queued} ended ${m.state}`), { fatal: true });
            return m.state.includes('completed') ? m : undefined;
          },
          240_000,
          500,
        );
        lap(`monitor of ${queued}: ${JSON.stringify(end)}`);
        assert(end.stopDisabled === true, 'Stop is disabled once the run is over');
        assert(!overlap, 'the two runs never ran at once (fisherLens.maxConcurrentRuns 1)');
        await c.waitTreeState(queued, 'completed', 60_000);
        await c.browse().screenshot('queue-after-reload');
      } finally {
        fs.rmSync(wsSettings, { force: true });
        if (long && statusOf(c, long)?.state === 'running')
          fs.writeFileSync(path.join(runDir(c, long), 'STOP'), 'e2e cleanup\n');
      }
    },
    dependsOn,
  );
}
