/**
 * The monitor's charts end to end (part of fisher-lens.e2e.ts): a 12,000-point synthetic run is written into the
 * runs folder step by step while its monitor is open, like a live run; the test measures the webview's frame
 * times during the stream and prints p50/p95 (the strict target is the bench's: `npm run bench -- webview`; here a
 * shared CI machine only has to keep the view responsive), then drives each fixed item: axis titles with units on
 * every chart, a one-line toolbar whose height does not change as the progress text grows, no "raw" line in the
 * legend while smoothing is off and one when it is on, Tr(F) ± s.e. on hover, and the view settings (smoothing,
 * log scale) kept for the run when its monitor is closed and opened again. Screenshots in a dark and a light
 * theme go to test-results/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Frame } from 'playwright-core';
import { writeFakeRun } from '../../src/runs/fakeRun';
import {
  assert,
  lap,
  RESULTS,
  sleep,
  waitFor,
  waitForWebviewFrame,
  type Browse,
  type Runner,
  type Workbench,
} from './harness';

const CMD_OPEN_MONITOR = 'Fisher Lens: Open Monitor';
const CMD_CLOSE_EDITOR = 'View: Close Editor';
const CMD_THEME = 'Preferences: Color Theme';
/** Step points of the streamed run (the fake run writes one every other step). */
const POINTS = 12_000;
/** Loose bound on the frame p95 in the editor on a shared machine: the view must stay responsive. */
const RESPONSIVE_P95_MS = 500;

const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Open the monitor of `id` from the palette (pick the run in the quick pick) and return its frame. */
async function openMonitor(wb: Workbench, id: string): Promise<Frame> {
  await waitFor(
    `the Open Monitor quick pick lists ${id}`,
    async () => {
      await wb.runCommand(CMD_OPEN_MONITOR);
      const ok = await wb.quickInput
        .waitFor({ state: 'visible', timeout: 5000 })
        .then(() => true)
        .catch(() => false);
      if (!ok) return undefined;
      await wb.quickInputBox.fill(id);
      const row = wb.quickRows
        .filter({
          has: wb.page.locator('.label-name', { hasText: new RegExp(`^\\s*${reEsc(id)}\\s*$`) }),
        })
        .first();
      if (!(await row.isVisible().catch(() => false))) {
        await sleep(500);
        if (!(await row.isVisible().catch(() => false))) {
          await wb.escapeQuickInput();
          return undefined;
        }
      }
      await row.click();
      return true;
    },
    60_000,
    1000,
  );
  return waitFor(
    `the monitor webview of ${id}`,
    async () => {
      const f = await waitForWebviewFrame(wb.page, '#chart-trf', 5000).catch(() => null);
      const shown = await f
        ?.evaluate(() => (document.getElementById('run-id')?.textContent ?? '').trim())
        .catch(() => '');
      return shown === id ? f! : undefined;
    },
    60_000,
    500,
  );
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

/** Set a toolbar control the way its change event reports it (vscode-elements select / checkbox). */
async function setControl(f: Frame, id: string, value: string | boolean): Promise<void> {
  await f.evaluate(
    ({ id, value }) => {
      const el = document.getElementById(id) as HTMLElement & { value: string; checked: boolean };
      if (typeof value === 'boolean') el.checked = value;
      else el.value = value;
      el.dispatchEvent(new Event('change', { bubbles: true }));
    },
    { id, value },
  );
}

const trfLegend = (f: Frame) =>
  f.evaluate(() => document.querySelector('#chart-trf .u-legend')?.textContent ?? '');

export async function monitorViewTests(
  runner: Runner,
  ctx: { wb: () => Workbench; browse: () => Browse; runsRoot: string },
  dependsOn: string[],
): Promise<void> {
  const id = `charts-${Date.now().toString(36)}`;
  const T_STREAM = `a ${POINTS.toLocaleString('en')}-point run streams into its monitor: frame times printed (p95), axis titles on every chart, the toolbar keeps one line`;
  await runner.test(
    T_STREAM,
    async () => {
      const wb = ctx.wb();
      fs.mkdirSync(ctx.runsRoot, { recursive: true });
      // The run is listed after its first chunk; the stream lasts about 25 s.
      const done = writeFakeRun(
        ctx.runsRoot,
        { runId: id, steps: 2 * POINTS, noise: true, seed: 3 },
        { replayMs: 100, chunkSteps: 100 },
      );
      const f = await openMonitor(wb, id);
      lap(`monitor of ${id} open`);
      await f.evaluate(() => {
        const w = window as unknown as { __frames: number[]; __heights: number[]; __on: boolean };
        w.__frames = [];
        w.__heights = [];
        w.__on = true;
        let last = performance.now();
        const loop = () => {
          const now = performance.now();
          w.__frames.push(now - last);
          last = now;
          if (w.__frames.length % 30 === 0)
            w.__heights.push(
              document.querySelector('header.toolbar')!.getBoundingClientRect().height,
            );
          if (w.__on) requestAnimationFrame(loop);
        };
        requestAnimationFrame(loop);
      });
      await done;
      const expected = fs
        .readFileSync(path.join(ctx.runsRoot, id, 'events.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"fisher"')).length;
      await waitFor(
        `all ${expected} Tr(F) points in the monitor`,
        async () =>
          Number(await f.evaluate(() => document.getElementById('chart-trf')?.dataset.points)) >=
            expected || undefined,
        120_000,
        500,
      );
      const m = await f.evaluate(() => {
        const w = window as unknown as { __frames: number[]; __heights: number[]; __on: boolean };
        w.__on = false;
        return { frames: w.__frames.slice(1), heights: w.__heights };
      });
      const p95 = percentile(m.frames, 95);
      console.log(
        `[e2e] monitor frame times while ${POINTS} points streamed: ${m.frames.length} frames, p50 ${percentile(m.frames, 50).toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${Math.max(...m.frames).toFixed(1)} ms (target p95 ≤ 50 ms: ${p95 <= 50 ? 'met' : 'NOT met on this machine'})`,
      );
      fs.writeFileSync(
        path.join(RESULTS, 'e2e-frame-times.json'),
        JSON.stringify({ points: POINTS, p95, frames: m.frames }),
      );
      assert(p95 <= RESPONSIVE_P95_MS, `frame p95 ${p95.toFixed(1)} ms ≤ ${RESPONSIVE_P95_MS} ms`);
      const hs = [...new Set(m.heights.map((h) => Math.round(h)))];
      lap(`toolbar heights during the stream: ${hs.join(', ')} px`);
      assert(hs.length === 1 && hs[0] < 60, `the toolbar kept one line (heights ${hs.join(', ')})`);
      const axes = await f.evaluate(() =>
        [...document.querySelectorAll<HTMLElement>('.chart')].map((c) => [
          c.id,
          c.dataset.axes ?? '',
        ]),
      );
      lap(`axis titles: ${JSON.stringify(axes)}`);
      for (const [chart, a] of axes)
        assert(/^step \| .+/.test(a), `${chart} has axis titles (${a})`);
      const byId = Object.fromEntries(axes);
      assert(/loss \(nats\)/.test(byId['chart-loss']), 'the loss axis names its unit (nats)');
      assert(/accuracy \(%\)/.test(byId['chart-acc']), 'the accuracy axis names its unit (%)');
      await ctx.browse().screenshot('monitor-charts-stream');
    },
    dependsOn,
  );

  const T_ITEMS =
    'monitor: no raw line while smoothing is off, Tr(F) ± s.e. on hover, settings kept for the run across reopening, both themes';
  await runner.test(T_ITEMS, async () => {
    const wb = ctx.wb();
    let f = await waitForWebviewFrame(wb.page, '#chart-trf', 20_000);
    const off = await trfLegend(f);
    assert(
      !/raw/.test(off),
      `no "raw" in the Tr(F) legend while smoothing is off (legend: ${off})`,
    );
    // Hover the middle of the Tr(F) plot: the legend shows value ± standard error.
    const over = f.locator('#chart-trf .u-over');
    const box = await over.boundingBox();
    assert(box, 'the Tr(F) plot has a hover area');
    await wb.page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
    const hovered = await waitFor(
      'a ± value in the legend',
      async () => {
        const t = await trfLegend(f);
        return /±/.test(t) ? t : undefined;
      },
      5000,
      200,
    );
    lap(`hover legend: ${hovered}`);
    await setControl(f, 'smoothing', '0.9');
    await setControl(f, 'log-scale', true);
    await waitFor(
      'a raw line with smoothing on',
      async () => /raw/.test(await trfLegend(f)) || undefined,
      5000,
      200,
    );
    await ctx.browse().screenshot('monitor-charts-smoothed');
    // Close the monitor and open it again: the run's settings are back.
    await wb.runCommand(CMD_CLOSE_EDITOR);
    await sleep(1000);
    f = await openMonitor(wb, id);
    const back = await waitFor(
      'the settings restored',
      async () => {
        const s = await f.evaluate(() => ({
          smoothing: (document.getElementById('smoothing') as HTMLElement & { value: string })
            .value,
          log: (document.getElementById('log-scale') as HTMLElement & { checked: boolean }).checked,
          legend: document.querySelector('#chart-trf .u-legend')?.textContent ?? '',
        }));
        return s.smoothing === '0.9' && s.log && /raw/.test(s.legend) ? s : undefined;
      },
      20_000,
      300,
    );
    lap(`reopened with ${JSON.stringify(back).slice(0, 200)}`);
    // Both themes: the light theme, then back.
    for (const theme of [/Light Modern/, /Dark Modern/]) {
      await wb.runCommand(CMD_THEME);
      await wb.pickQuickItem(theme);
      await sleep(1500);
      await ctx
        .browse()
        .screenshot(`monitor-charts-${/Light/.test(theme.source) ? 'light' : 'dark'}`);
    }
  }, [T_STREAM]);
}
