/**
 * What the e2e step files (test/e2e/steps/*.ts) get from fisher-lens.e2e.ts, and small helpers they share:
 * picking a run in a run quick pick, answering an input box, reading a run folder, the colour theme, a PNG's
 * size and first pixel.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { Frame } from 'playwright-core';
import {
  findWebviewFrame,
  lap,
  sleep,
  waitFor,
  type Browse,
  type Session,
  type TreeRow,
  type Workbench,
} from '../harness';

export interface StepsCtx {
  wb: () => Workbench;
  browse: () => Browse;
  session: Session;
  /** Run ids of the main test: first and second are completed tiny preset runs. */
  ids: { first?: string; second?: string; [k: string]: string | undefined };
  /** The workspace's long `*.fisher.json` (trains until stopped). */
  longFile: string;
  /** A tiny preset of New Run… (matches its quick-pick row). */
  smallPreset: RegExp;
  newRun: (preset: RegExp) => Promise<string>;
  waitTreeState: (id: string, want: string, timeoutMs: number) => Promise<TreeRow>;
}

export const reEsc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const runsRoot = (c: StepsCtx) => path.join(c.session.workspace, '.fisherlens', 'runs');
export const runDir = (c: StepsCtx, id: string) => path.join(runsRoot(c), id);

export function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}
export const statusOf = (c: StepsCtx, id: string) =>
  readJson(path.join(runDir(c, id), 'status.json')) as
    { state?: string; step?: number } | undefined;

/** A run quick pick (src/host/commands/common.ts pickRun) is open: narrow it to `id` and choose it. */
export async function pickRunRow(wb: Workbench, id: string): Promise<void> {
  await wb.quickInput.waitFor({ state: 'visible', timeout: 20_000 });
  await wb.quickInputBox.fill(id);
  await wb.pickQuickItem(new RegExp(reEsc(id)), 20_000);
}

/** An input box titled like `title` is showing (after a quick pick, the same widget is reused): type `value`, Enter. */
export async function answerInputBox(
  wb: Workbench,
  title: RegExp,
  value: string,
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    `the input box ${title}`,
    async () => {
      const t = await wb.page
        .locator('.quick-input-widget .quick-input-title')
        .innerText({ timeout: 1000 })
        .catch(() => '');
      return (await wb.quickInput.isVisible()) && title.test(t);
    },
    timeoutMs,
    200,
  );
  await wb.quickInputBox.fill(value);
  await wb.page.keyboard.press('Enter');
  await wb.quickInput.waitFor({ state: 'hidden', timeout: 10_000 });
}

/**
 * Run a palette command that opens an input box titled like `title`, and answer it. A click on the palette's row
 * is now and then lost in code-server (the palette closes, the command never runs): the command is run again
 * when no input box shows within 8 s (an idempotent command only).
 */
export async function commandToInputBox(
  wb: Workbench,
  command: string,
  title: RegExp,
  value: string,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await wb.runCommand(command);
    try {
      await answerInputBox(wb, title, value, 8_000);
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      lap(`"${command}" showed no input box ${title}: running it again`);
    }
  }
}

/** The workbench's theme kind: its theme class where there is one, else its editor background's lightness. */
export async function themeKind(wb: Workbench): Promise<'light' | 'dark'> {
  return wb.page.evaluate(() => {
    const el = document.querySelector('.monaco-workbench') ?? document.body;
    const cls = `${el.className} ${document.body.className}`;
    if (/\bvs-dark\b|\bhc-black\b/.test(cls)) return 'dark';
    const bg = getComputedStyle(el).getPropertyValue('--vscode-editor-background').trim();
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})/i.exec(bg);
    if (!m) return /\bvs\b|\bhc-light\b/.test(cls) ? 'light' : 'dark';
    const [r, g, b] = m.slice(1, 4).map((h) => parseInt(h, 16));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 128 ? 'light' : 'dark';
  });
}

/** Switch the colour theme from the palette and wait until the workbench uses it. */
export async function setTheme(wb: Workbench, theme: 'light' | 'dark'): Promise<void> {
  await wb.runCommand('Preferences: Color Theme');
  await wb.pickQuickItem(theme === 'light' ? /Light Modern/ : /Dark Modern/);
  await waitFor(
    `the workbench in the ${theme} theme`,
    async () => (await themeKind(wb)) === theme,
    20_000,
    200,
  );
  await wb.escapeQuickInput();
}

/** A visible webview of ours containing `selector` whose body has the theme's class. */
export async function themedFrame(
  wb: Workbench,
  selector: string,
  theme: 'light' | 'dark',
): Promise<Frame> {
  return waitFor(
    `a webview with ${selector} in the ${theme} theme`,
    async () => {
      const f = await findWebviewFrame(wb.page, selector);
      const cls = await f?.evaluate(() => document.body.className).catch(() => '');
      return f && cls?.includes(`vscode-${theme}`) ? f : undefined;
    },
    20_000,
    300,
  );
}

/** Bring the editor tab whose label matches `label` to the front. */
export async function showTab(wb: Workbench, label: RegExp): Promise<void> {
  const tab = wb.page.locator('.tabs-container .tab', { hasText: label }).first();
  await tab.waitFor({ state: 'visible', timeout: 20_000 });
  await tab.click();
  await sleep(300);
}

/** Width, height, and the RGB of the top-left pixel of a PNG (8-bit RGB or RGBA, any filter of the first row). */
export function pngInfo(buf: Buffer): { width: number; height: number; topLeft: number[] } {
  if (buf.subarray(1, 4).toString('latin1') !== 'PNG') throw new Error('not a PNG');
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  const bitDepth = buf[24];
  const colorType = buf[25];
  if (bitDepth !== 8 || (colorType !== 2 && colorType !== 6))
    throw new Error(`unexpected PNG format (bit depth ${bitDepth}, colour type ${colorType})`);
  const idat: Buffer[] = [];
  for (let o = 8; o < buf.length;) {
    const len = buf.readUInt32BE(o);
    const type = buf.subarray(o + 4, o + 8).toString('latin1');
    if (type === 'IDAT') idat.push(buf.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  // The first row's first pixel: filters None/Sub/Up/Paeth leave it as stored (nothing before or above it);
  // Average halves the (zero) left and above neighbours, i.e. also leaves it as stored.
  const bpp = colorType === 6 ? 4 : 3;
  const px = [...raw.subarray(1, 1 + bpp)];
  return { width, height, topLeft: px.slice(0, 3) };
}
