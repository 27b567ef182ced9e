/**
 * `npm run bench -- webview [--points N] [--batch-ms MS]`: frame times of the monitor webview in real Chromium
 * while a long synthetic run streams in. The built bundle (dist/webview/monitor.js and .css, vscode-elements) is
 * loaded into the monitor's own markup with a stand-in for the VS Code webview API; the run
 * (src/shared/fakeRunEvents.ts, N step points, default 12,000) is posted as the host does it: one snapshot, then
 * `events` messages of a batch of steps every MS ms (default 50; the host batches every 200 ms). A
 * requestAnimationFrame loop in the page records the time between frames for the whole stream; printed: p50,
 * p95, max and the share of frames over 50 ms (the target: p95 ≤ 50 ms), and the time the page spent in its own
 * redraws. Exit status 1 when p95 is over the target.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { monitorBody } from '../src/host/panels/monitorHtml';
import { fakeRunEvents } from '../src/shared/fakeRunEvents';
import type { RunEvent } from '../src/shared/protocol';
import { buildSeries, viewSeries } from '../src/shared/series';

const REPO = path.resolve(import.meta.dirname, '..');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
const TARGET_P95_MS = 50;
const ORIGIN = 'http://fisher-lens.bench';

/** Percentile `p` (0–100) of `xs` (nearest rank). */
export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

/** A stand-in for `acquireVsCodeApi` and a timer around every animation-frame callback of the page. */
const INIT = `
  window.__name = (f) => f; // tsx keeps function names with a helper the page lacks
  window.__posted = [];
  let state;
  window.acquireVsCodeApi = () => ({
    postMessage: (m) => window.__posted.push(m),
    getState: () => state,
    setState: (s) => { state = s; },
  });
  window.__cb = [];
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (fn) => raf((t) => {
    const t0 = performance.now();
    try { fn(t); } finally { window.__cb.push(performance.now() - t0); }
  });
`;

export async function runWebviewBench(
  o: { points?: number; batchMs?: number; profile?: boolean; shots?: string } = {},
): Promise<number> {
  const points = o.points ?? 12_000;
  const batchMs = o.batchMs ?? 50;
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO, stdio: 'ignore' });
  const dist = path.join(REPO, 'dist', 'webview');
  // The fake run writes a step point every other step.
  const runId = 'bench-webview-run';
  const events = fakeRunEvents({ runId, steps: 2 * points, noise: true, seed: 7, t0: 1e12 });
  const head = events.slice(0, 2);
  const rest = events.slice(2);
  const stepsPerBatch = 100;
  const batches: RunEvent[][] = [];
  let cur: RunEvent[] = [];
  let until = stepsPerBatch;
  for (const e of rest) {
    if ('step' in e && e.step > until) {
      batches.push(cur);
      cur = [];
      until += stepsPerBatch;
    }
    cur.push(e);
  }
  if (cur.length) batches.push(cur);
  const stepPoints = events.filter((e) => e.type === 'step').length;
  const fisherPoints = events.filter((e) => e.type === 'fisher').length;
  console.log(
    `monitor webview: ${stepPoints} step points, ${fisherPoints} Tr(F) points, in ${batches.length} messages, one every ${batchMs} ms`,
  );

  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="${ORIGIN}/monitor.css"><style id="theme-vars">${THEMES.dark}</style>
<script type="module" src="${ORIGIN}/vscode-elements.js"></script>
<script src="${ORIGIN}/monitor.js" defer></script></head>
<body data-view="monitor" class="vscode-dark">${monitorBody(runId)}</body></html>`;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.addInitScript(INIT);
    await page.route(`${ORIGIN}/**`, async (r) => {
      const name = new URL(r.request().url()).pathname.slice(1);
      if (name === 'index.html') return r.fulfill({ body: html, contentType: 'text/html' });
      const file = path.join(dist, path.basename(name));
      if (!fs.existsSync(file)) return r.fulfill({ status: 404 });
      const type = file.endsWith('.css') ? 'text/css' : 'text/javascript';
      return r.fulfill({ body: fs.readFileSync(file), contentType: type });
    });
    await page.goto(`${ORIGIN}/index.html`);
    await page.waitForFunction(() =>
      (window as unknown as { __posted: { type: string }[] }).__posted.some(
        (m) => m.type === 'ready',
      ),
    );
    const snapshot = {
      type: 'snapshot',
      runId,
      series: viewSeries(buildSeries(runId, head)),
      config: null,
      state: 'running',
      summary: null,
    };
    // The machine's own noise: frames of the same page, drawn and idle, before the stream starts.
    const idle = await page.evaluate(async () => {
      const frames: number[] = [];
      let last = performance.now();
      const t0 = last;
      await new Promise<void>((done) => {
        const loop = () => {
          const now = performance.now();
          frames.push(now - last);
          last = now;
          if (now - t0 < 2000) requestAnimationFrame(loop);
          else done();
        };
        requestAnimationFrame(loop);
      });
      return frames;
    });
    // Main-thread time of the page (scripts, style, layout, paint), which the machine's load does not inflate much.
    const perf = await page.context().newCDPSession(page);
    await perf.send('Performance.enable');
    const busy = async () => {
      const { metrics } = await perf.send('Performance.getMetrics');
      const m = Object.fromEntries(
        metrics.map((x: { name: string; value: number }) => [x.name, x.value]),
      );
      return {
        task: m.TaskDuration ?? 0,
        script: m.ScriptDuration ?? 0,
        layout: (m.LayoutDuration ?? 0) + (m.RecalcStyleDuration ?? 0),
      };
    };
    const before = await busy();
    const cdp = o.profile ? await page.context().newCDPSession(page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const stats = await page.evaluate(
      async ({ snapshot, batches, runId, batchMs }) => {
        const w = window as unknown as { __cb: number[]; __posted: { type: string }[] };
        window.postMessage(snapshot, '*');
        await new Promise((r) => setTimeout(r, 500));
        const frames: number[] = [];
        let last = performance.now();
        let on = true;
        const loop = () => {
          const now = performance.now();
          frames.push(now - last);
          last = now;
          if (on) requestAnimationFrame(loop);
        };
        requestAnimationFrame(() => {
          last = performance.now();
          requestAnimationFrame(loop);
        });
        w.__cb.length = 0;
        const t0 = performance.now();
        for (const events of batches) {
          window.postMessage({ type: 'events', runId, events }, '*');
          await new Promise((r) => setTimeout(r, batchMs));
        }
        await new Promise((r) => setTimeout(r, 300));
        on = false;
        const points = Number(document.getElementById('chart-trf')?.dataset.points ?? 0);
        return {
          frames,
          callbacks: w.__cb.slice(),
          seconds: (performance.now() - t0) / 1000,
          points,
          logs: w.__posted.filter((m) => m.type === 'log'),
        };
      },
      { snapshot, batches, runId, batchMs },
    );
    const after = await busy();
    if (cdp) printProfile((await cdp.send('Profiler.stop')).profile);
    const p = (xs: number[], q: number) => percentile(xs, q).toFixed(1);
    console.log(
      `machine: ${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)}; the idle page's frames: p50 ${p(idle, 50)} ms · p95 ${p(idle, 95)} ms`,
    );
    const over = stats.frames.filter((f) => f > TARGET_P95_MS).length;
    console.log(
      `streamed for ${stats.seconds.toFixed(1)} s: ${stats.frames.length} frames, Tr(F) points drawn ${stats.points} of ${fisherPoints}`,
    );
    console.log(
      `frame time (between animation frames): p50 ${p(stats.frames, 50)} ms · p95 ${p(stats.frames, 95)} ms · max ${Math.max(...stats.frames).toFixed(1)} ms · ${over} frames (${((100 * over) / stats.frames.length).toFixed(1)}%) over ${TARGET_P95_MS} ms`,
    );
    console.log(
      `main thread busy while streaming: ${(after.task - before.task).toFixed(2)} s of ${stats.seconds.toFixed(1)} s (scripts ${(after.script - before.script).toFixed(2)} s, style and layout ${(after.layout - before.layout).toFixed(2)} s)`,
    );
    console.log(
      `redraw work per frame (the page's animation-frame callbacks): p50 ${p(stats.callbacks, 50)} ms · p95 ${p(stats.callbacks, 95)} ms · max ${Math.max(...stats.callbacks).toFixed(1)} ms`,
    );
    if (o.shots) await shots(page, o.shots);
    for (const l of stats.logs) console.log(`webview log: ${JSON.stringify(l).slice(0, 300)}`);
    for (const e of errors) console.log(`page error: ${e}`);
    const p95 = percentile(stats.frames, 95);
    const ok = p95 <= TARGET_P95_MS && stats.points === fisherPoints && !errors.length;
    console.log(
      `${ok ? 'OK' : 'FAIL'}: frame p95 ${p95.toFixed(1)} ms (target ≤ ${TARGET_P95_MS} ms)${stats.points === fisherPoints ? '' : '; not every Tr(F) point arrived'}`,
    );
    return ok ? 0 : 1;
  } finally {
    await browser.close();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** The functions the page spent most time in (self time), from a CDP CPU profile. */
function printProfile(p: { nodes: ProfileNode[]; samples?: number[]; timeDeltas?: number[] }) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  (p.samples ?? []).forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const key = `${f.functionName || '(anonymous)'} ${path.basename(f.url)}:${f.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas?.[i] ?? 0) / 1000);
  });
  const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log('CPU profile, self time:');
  for (const [k, ms] of top) console.log(`  ${ms.toFixed(0).padStart(7)} ms  ${k}`);
}

/** The VS Code theme variables the views read (a few of Dark Modern's and Light Modern's). */
const THEMES = {
  dark: `body { --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px; --vscode-foreground: #cccccc;
    --vscode-descriptionForeground: #9d9d9d; --vscode-editor-background: #1f1f1f; --vscode-panel-border: #2b2b2b;
    --vscode-editorWidget-border: #454545; --vscode-charts-blue: #3794ff; --vscode-charts-red: #f14c4c;
    --vscode-charts-green: #89d185; --vscode-charts-yellow: #cca700; --vscode-charts-orange: #d18616;
    --vscode-charts-purple: #b180d7; --vscode-badge-background: #616161; --vscode-badge-foreground: #f8f8f8; }`,
  light: `body { --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px; --vscode-foreground: #3b3b3b;
    --vscode-descriptionForeground: #717171; --vscode-editor-background: #ffffff; --vscode-panel-border: #e5e5e5;
    --vscode-editorWidget-border: #c8c8c8; --vscode-charts-blue: #1a85ff; --vscode-charts-red: #e51400;
    --vscode-charts-green: #388a34; --vscode-charts-yellow: #bf8803; --vscode-charts-orange: #d18616;
    --vscode-charts-purple: #652d90; --vscode-badge-background: #cccccc; --vscode-badge-foreground: #3b3b3b; }`,
};

/** Screenshots of the monitor in both themes (the theme switch as VS Code does it: body class) and its PNG export. */
async function shots(page: Page, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  for (const kind of ['dark', 'light'] as const) {
    await page.evaluate(
      ({ css, kind }) => {
        document.getElementById('theme-vars')!.textContent = css;
        document.body.className = `vscode-${kind}`;
      },
      { css: THEMES[kind], kind },
    );
    await page.waitForTimeout(800);
    await page.screenshot({ path: path.join(dir, `bench-monitor-${kind}.png`), fullPage: true });
    const box = await page.locator('#chart-trf').boundingBox();
    if (box)
      await page.screenshot({
        path: path.join(dir, `bench-trf-marks-${kind}.png`),
        clip: { x: box.x, y: box.y, width: Math.min(box.width, 700), height: 140 },
      });
  }
  const url = await page.evaluate(async () => {
    const w = window as unknown as { __posted: { type: string; dataUrl?: string }[] };
    window.postMessage({ type: 'exportPng', requestId: 1 }, '*');
    for (let i = 0; i < 100; i++) {
      const m = w.__posted.find((x) => x.type === 'png');
      if (m) return m.dataUrl ?? JSON.stringify(m);
      await new Promise((r) => setTimeout(r, 100));
    }
    return 'no png';
  });
  if (!url.startsWith('data:image/png;base64,')) throw new Error(`PNG export: ${url}`);
  fs.writeFileSync(path.join(dir, 'bench-export.png'), Buffer.from(url.split(',')[1], 'base64'));
  console.log(`screenshots and the PNG export in ${dir}`);
}
