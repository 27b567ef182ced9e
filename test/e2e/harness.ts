/**
 * E2E harness: code-server (VS Code 1.96.4 in the browser) + Debian Chromium through playwright-core.
 * No mocks: the real packaged extension, the real trainer process, the real workbench DOM.
 *
 * What lives here: starting/stopping code-server, the browser session with console + CSP collection,
 * command-palette / quick-pick / activity-bar / tree helpers with the retries a real workbench needs
 * (an early palette may not list extension commands yet), locating webview content frames
 * (outer `iframe.webview.ready` → inner `iframe#active-frame`), screenshots, and a tiny sequential test runner.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Frame, type Locator, type Page } from 'playwright-core';

export const REPO = path.resolve(__dirname, '../..');
export const RESULTS = path.join(REPO, 'test-results');
export const E2E_DIR = path.join(REPO, '.e2e');
export const CODE_SERVER =
  process.env.E2E_CODE_SERVER || path.join(E2E_DIR, 'node_modules/.bin/code-server');
export const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';
/** Our extension's id (publisher.name): used to tell our webviews from others. */
export const EXTENSION_ID = 'fisherlens.fisher-lens';

const t0 = Date.now();
/** Workbench settings for a quiet, deterministic session (no tips, updates, trust prompts or walkthroughs). */
export const BASE_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'workbench.enableExperiments': false,
  'update.mode': 'none',
  'git.openRepositoryInParentFolders': 'never',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
};

/** Run states after which nothing changes. */
export const TERMINAL = ['completed', 'stopped', 'failed', 'diverged'] as const;

export const lap = (m: string) =>
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes; then throws with `what` and the last value/error. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T> | T,
  timeoutMs: number,
  intervalMs = 250,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      if ((e as { fatal?: boolean })?.fatal) throw e; // a state that can no longer turn into the wanted one
      last = e instanceof Error ? e.message.split('\n')[0] : e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what} (last: ${JSON.stringify(last)?.slice(0, 300)})`,
      );
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------------------
// code-server
// ---------------------------------------------------------------------------------------------------------

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface Session {
  dir: string; // <dir>/{user,ext,work,xdg,server.log}
  userDir: string;
  extDir: string;
  workspace: string;
  serverLog: string;
}

/** Fresh user-data / extensions / workspace dirs (never reuses state of an earlier run). */
export function newSession(settings: Record<string, unknown>): Session {
  // outside the repository (a workspace inside a git repo makes VS Code offer to open that repo)
  const base = path.join(os.tmpdir(), 'fisher-lens-e2e');
  fs.mkdirSync(base, { recursive: true });
  // keep only the 3 most recent sessions (the current one's predecessors are kept for post-mortems)
  const old = fs.readdirSync(base).sort();
  for (const d of old.slice(0, Math.max(0, old.length - 3)))
    fs.rmSync(path.join(base, d), { recursive: true, force: true });
  const dir = fs.mkdtempSync(path.join(base, new Date().toISOString().replace(/[:.]/g, '-') + '-'));
  const s: Session = {
    dir,
    userDir: path.join(dir, 'user'),
    extDir: path.join(dir, 'ext'),
    workspace: path.join(dir, 'work'),
    serverLog: path.join(dir, 'server.log'),
  };
  fs.mkdirSync(path.join(s.userDir, 'User'), { recursive: true });
  fs.mkdirSync(s.extDir, { recursive: true });
  fs.mkdirSync(s.workspace, { recursive: true });
  fs.writeFileSync(path.join(s.userDir, 'User/settings.json'), JSON.stringify(settings, null, 2));
  return s;
}

function csEnv(s: Session): NodeJS.ProcessEnv {
  // private XDG dirs: code-server writes its config.yaml/state there; nothing from the user's home is read
  return {
    ...process.env,
    XDG_CONFIG_HOME: path.join(s.dir, 'xdg/config'),
    XDG_DATA_HOME: path.join(s.dir, 'xdg/data'),
    XDG_CACHE_HOME: path.join(s.dir, 'xdg/cache'),
  };
}

export function installExtension(s: Session, vsix: string): void {
  const r = spawnSync(
    CODE_SERVER,
    ['--user-data-dir', s.userDir, '--extensions-dir', s.extDir, '--install-extension', vsix],
    {
      env: csEnv(s),
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out)
    console.log(
      out
        .split('\n')
        .map((l) => '  [install-extension] ' + l)
        .join('\n'),
    );
  if (r.status !== 0)
    throw new Error(
      `code-server --install-extension failed (status ${r.status}, ${r.error ?? ''})`,
    );
  const installed = fs.readdirSync(s.extDir).filter((d) => d.startsWith(EXTENSION_ID));
  if (!installed.length)
    throw new Error(
      `extension ${EXTENSION_ID} not found in ${s.extDir} after install: ${fs.readdirSync(s.extDir)}`,
    );
}

export class CodeServer {
  private proc?: ChildProcess;
  constructor(
    readonly s: Session,
    readonly port: number,
  ) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.s.workspace)}`;
  }

  async start(timeoutMs = 60_000): Promise<void> {
    const log = fs.openSync(this.s.serverLog, 'a');
    this.proc = spawn(
      CODE_SERVER,
      [
        '--auth',
        'none',
        '--bind-addr',
        `127.0.0.1:${this.port}`,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--user-data-dir',
        this.s.userDir,
        '--extensions-dir',
        this.s.extDir,
        this.s.workspace,
      ],
      { env: csEnv(this.s), stdio: ['ignore', log, log], detached: true },
    ); // own process group: stop() kills the tree
    fs.closeSync(log);
    let exited: string | undefined;
    this.proc.once('exit', (code, sig) => {
      exited = `code-server exited (code ${code}, signal ${sig})`;
    });
    await waitFor(
      'code-server /healthz',
      async () => {
        if (exited) throw new Error(exited);
        const r = await fetch(`http://127.0.0.1:${this.port}/healthz`).catch(() => undefined);
        return r?.ok;
      },
      timeoutMs,
      200,
    );
  }

  /** SIGTERM the whole process group (server, extension host, trainer children), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    const pid = this.proc?.pid;
    if (!pid || this.proc?.exitCode !== null) return;
    const alive = () => {
      try {
        process.kill(-pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 50 && alive(); i++) await sleep(100);
    if (alive())
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Browser + console / CSP collection
// ---------------------------------------------------------------------------------------------------------

export interface ConsoleRecord {
  type: string;
  text: string;
  url: string;
  at: number;
}

/** Chromium's own CSP console reports (no frame attribution) and our tagged reports. */
const CSP_RE = /violates the following Content Security Policy directive|Refused to|\[e2e-csp\]/;
const TAG_RE = /^\[e2e-(csp|error)\] (.*) frame=(\S*) doc=(\S*)$/s;

/**
 * Runs in every frame (Playwright injects it through CDP, so the webview's CSP does not block it): reports each
 * `securitypolicyviolation`, uncaught error and unhandled rejection of that document on the console, tagged with
 * the frame's nesting (workbench → VS Code's webview host frame → the webview's content frame)
 * and the document URL (whose `extensionId=` names the webview's owner).
 */
const INIT_SCRIPT = `(() => {
  // esbuild/tsx keepNames wraps named functions inside page.evaluate callbacks in __name(): make it exist
  if (!window.__name) window.__name = (f) => f;
  // nesting depth: 0 = the workbench, 1 = VS Code's webview host frame, 2 = a webview's content (active-frame).
  // Measured now: VS Code's content-frame bootstrap later deletes window.parent/top/frameElement.
  let depth = 0;
  try { for (let w = window; w && w !== w.parent && depth < 9; w = w.parent) depth++; } catch {}
  window.__e2eDepth = depth;
  const frameKind = ['workbench', 'webview-host', 'webview-content'][depth] || 'depth' + depth;
  const where = () => frameKind;
  const report = (tag, s) => console.error('[e2e-' + tag + '] ' + s + ' frame=' + where() + ' doc=' + location.href);
  const seen = (window.__e2eCsp = window.__e2eCsp || []);
  const onViolation = (e) => {
    const s = e.violatedDirective + ' blocked=' + (e.blockedURI || '(inline)') + ' src=' + (e.sourceFile || '') + ':' + (e.lineNumber || '') + ' sample=' + (e.sample || '');
    seen.push(s);
    report('csp', s);
  };
  const onError = (e) => report('error', 'uncaught ' + (e.error && e.error.stack ? e.error.stack : e.message) + ' at ' + (e.filename || '') + ':' + (e.lineno || ''));
  const onRejection = (e) => report('error', 'unhandled rejection ' + (e.reason && e.reason.stack ? e.reason.stack : String(e.reason)));
  const install = () => {
    document.addEventListener('securitypolicyviolation', onViolation, true);
    window.addEventListener('error', onError);
    window.addEventListener('unhandledrejection', onRejection);
  };
  install();
  // VS Code writes the webview content into fake.html with document.open()/write(), and document.open() erases
  // the document's and window's event listeners: install ours again right after every open() of this document.
  const open = Document.prototype.open;
  Document.prototype.open = function (...args) {
    const r = open.apply(this, args);
    if (this === document) install();
    return r;
  };
})();`;

export interface WebviewReports {
  /** from the content frame of one of our webviews: these fail the test */
  ours: string[];
  /** from VS Code's own webview host frame of our webviews (VS Code's code, reported only) */
  host: string[];
  /** other extensions' webviews, the workbench, or Chromium reports without a frame (reported only) */
  other: string[];
}

export class Browse {
  readonly console: ConsoleRecord[] = [];
  readonly cdpLog: { source: string; level: string; text: string; url?: string }[] = [];
  /** webview id (the `id=` query parameter shared by outer index.html and inner fake.html) → extensionId */
  readonly webviewOwner = new Map<string, string>();
  private constructor(
    readonly browser: Browser,
    readonly page: Page,
  ) {}

  static async launch(): Promise<Browse> {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const b = new Browse(browser, page);
    await page.addInitScript(INIT_SCRIPT);
    page.on('console', (m) => {
      const loc = m.location();
      const rec = { type: m.type(), text: m.text(), url: loc?.url || '', at: Date.now() };
      b.console.push(rec);
      if (m.type() === 'error' || CSP_RE.test(rec.text))
        console.log(
          `  [console.${m.type()}] ${rec.text.slice(0, 300)}${rec.url ? '  @' + rec.url.slice(0, 120) : ''}`,
        );
    });
    page.on('pageerror', (e) => {
      b.console.push({ type: 'pageerror', text: String(e), url: '', at: Date.now() });
      console.log('  [pageerror]', String(e).slice(0, 300));
    });
    const track = (f: Frame) => {
      try {
        const u = new URL(f.url());
        const id = u.searchParams.get('id');
        const ext = u.searchParams.get('extensionId');
        if (id && ext) b.webviewOwner.set(id, ext);
      } catch {
        /* about:blank etc. */
      }
    };
    page.on('frameattached', track);
    page.on('framenavigated', track);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Log.enable');
    cdp.on('Log.entryAdded', ({ entry }) =>
      b.cdpLog.push({ source: entry.source, level: entry.level, text: entry.text, url: entry.url }),
    );
    return b;
  }

  /** Which extension owns the webview document at `url` (outer index.html or inner fake.html), if it is one. */
  ownerOfUrl(url: string): string | undefined {
    try {
      const u = new URL(url);
      if (!/\/webview\/|fake\.html|vscode-resource|vscode-cdn/.test(url)) return undefined;
      return (
        u.searchParams.get('extensionId') ??
        this.webviewOwner.get(u.searchParams.get('id') ?? '') ??
        'unknown-webview'
      );
    } catch {
      return undefined;
    }
  }

  /** Tagged reports (`csp` violations or uncaught `error`s) so far, split by where they come from. */
  reports(kind: 'csp' | 'error'): WebviewReports {
    const out: WebviewReports = { ours: [], host: [], other: [] };
    for (const m of this.console) {
      const t = TAG_RE.exec(m.text);
      if (t) {
        if (t[1] !== kind) continue;
        const [, , what, frame, doc] = t;
        const owner = this.ownerOfUrl(doc);
        const line = `${what.slice(0, 400)} (frame ${frame}, ${owner ? 'webview of ' + owner : 'workbench'})`;
        if (owner === EXTENSION_ID) (frame === 'webview-content' ? out.ours : out.host).push(line);
        else out.other.push(line);
      } else if (kind === 'csp' && CSP_RE.test(m.text)) {
        out.other.push(`[chromium, no frame] ${m.text.slice(0, 300)}`);
      }
    }
    if (kind === 'csp')
      for (const e of this.cdpLog.filter((e) => CSP_RE.test(e.text)))
        out.other.push(
          `[cdp ${e.source}] ${e.text.slice(0, 300)} @${(e.url || '?').slice(0, 160)}`,
        );
    return out;
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(RESULTS, { recursive: true });
    const file = path.join(RESULTS, name.endsWith('.png') ? name : name + '.png');
    // park the mouse where it shows no hover tooltip (it is often left over the command centre after a quick pick)
    await this.page.mouse.move(250, 760).catch(() => undefined);
    await sleep(200);
    await this.page.screenshot({ path: file, timeout: 15_000 });
    lap(`screenshot ${path.relative(REPO, file)}`);
    return file;
  }

  async close(): Promise<void> {
    await this.browser.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Workbench helpers
// ---------------------------------------------------------------------------------------------------------

export class Workbench {
  constructor(readonly page: Page) {}
  get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }
  get quickInputBox(): Locator {
    return this.page.locator('.quick-input-widget .quick-input-box input');
  }
  get quickRows(): Locator {
    return this.page.locator('.quick-input-widget .monaco-list-row');
  }

  async open(url: string): Promise<void> {
    await this.page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });
    await this.page.waitForSelector('.monaco-workbench', { timeout: 90_000 });
    await this.page.waitForSelector('.statusbar', { timeout: 60_000 });
    await this.page.waitForSelector('.part.activitybar, .activitybar', { timeout: 60_000 });
  }

  async escapeQuickInput(): Promise<void> {
    for (let i = 0; i < 3 && (await this.quickInput.isVisible()); i++) {
      await this.page.keyboard.press('Escape');
      await sleep(150);
    }
  }

  /**
   * Runs a command through the palette like a person: F1, type its title, click its row. Retries (palette not
   * ready, extension commands not registered yet) until `timeoutMs`. `title` is matched as a prefix of the row's
   * label; "…" and "..." are treated alike.
   */
  async runCommand(title: string, timeoutMs = 60_000): Promise<void> {
    const esc = title
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/(…|\\\.\\\.\\\.)/g, '(…|\\.\\.\\.)');
    const labelRe = new RegExp('^\\s*' + esc);
    const typed = title.replace(/(…|\.\.\.)$/, '');
    const end = Date.now() + timeoutMs;
    for (let attempt = 1; ; attempt++) {
      await this.escapeQuickInput();
      await this.page.keyboard.press('F1');
      try {
        await this.quickInput.waitFor({ state: 'visible', timeout: 3000 });
        await this.quickInputBox.fill('>' + typed);
        const row = this.quickRows
          .filter({ has: this.page.locator('.label-name', { hasText: labelRe }) })
          .first();
        await row.waitFor({ state: 'visible', timeout: 3000 });
        await row.click();
        lap(`palette: ran "${title}"${attempt > 1 ? ` (attempt ${attempt})` : ''}`);
        return;
      } catch (e) {
        if (Date.now() > end) {
          const rows = await this.quickRows.allInnerTexts().catch(() => []);
          throw new Error(
            `command "${title}" not found in the palette after ${timeoutMs / 1000}s; rows: ${JSON.stringify(rows.slice(0, 10))}`,
          );
        }
        if (attempt % 5 === 1) lap(`palette: "${title}" not listed yet, retrying`);
        await sleep(500);
      }
    }
  }

  /** Texts of the rows of the visible quick pick (label + description + detail). */
  async quickPickItems(): Promise<string[]> {
    if (!(await this.quickInput.isVisible())) return [];
    return (await this.quickRows.allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  }

  /** Waits for a quick pick with a row matching `re`, clicks it. */
  async pickQuickItem(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const row = this.quickRows.filter({ hasText: re }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: timeoutMs });
    } catch {
      throw new Error(
        `no quick-pick item matching ${re}; visible items: ${JSON.stringify(await this.quickPickItems())}`,
      );
    }
    const text = (await row.innerText()).replace(/\s+/g, ' ').trim();
    try {
      await row.click({ timeout: 5000 });
    } catch {
      // The list can keep re-laying out (a notification sliding in, the workbench busy): playwright then never
      // sees the row "stable". It is visible and the right one, so click it without the stability check.
      lap('quick pick: row not stable after 5 s, clicking it anyway');
      await row.click({ force: true, timeout: 5000 });
    }
    // A busy workbench may drop the click (the picker stays, the row with it): choose it with the keyboard then.
    const closed = await waitFor(
      'the quick pick to take the choice',
      async () => !(await this.quickInput.isVisible()) || !(await row.isVisible()),
      3000,
      200,
    ).catch(() => false);
    if (!closed) await this.chooseByKeyboard(re);
    lap(`quick pick: chose "${text.slice(0, 100)}"`);
    return text;
  }

  /** Move the quick pick's active row to the one matching `re` with the arrow keys and accept it with Enter. */
  private async chooseByKeyboard(re: RegExp): Promise<void> {
    lap(`quick pick: the click did not take; choosing ${re} with the keyboard`);
    await this.quickInputBox.focus();
    for (let i = 0; i < 40; i++) {
      const active = await this.page
        .locator('.quick-input-widget .monaco-list-row.focused')
        .first()
        .innerText({ timeout: 1000 })
        .catch(() => '');
      if (re.test(active.replace(/\s+/g, ' '))) {
        await this.page.keyboard.press('Enter');
        return;
      }
      await this.page.keyboard.press('ArrowDown');
      await sleep(100);
    }
    throw new Error(`no quick-pick row matching ${re} could be made active`);
  }

  /** Multi-select quick pick: ticks the rows matching each of `res`, then accepts (OK button or Enter). */
  async pickManyQuickItems(res: RegExp[], timeoutMs = 20_000): Promise<void> {
    for (const re of res) {
      const row = this.quickRows.filter({ hasText: re }).first();
      try {
        await row.waitFor({ state: 'visible', timeout: timeoutMs });
      } catch {
        throw new Error(
          `no quick-pick item matching ${re}; visible items: ${JSON.stringify(await this.quickPickItems())}`,
        );
      }
      const box = row.locator('input[type=checkbox], .quick-input-list-checkbox').first();
      const checked = async () =>
        (await box.count())
          ? box.isChecked().catch(() => row.getAttribute('aria-checked').then((a) => a === 'true'))
          : row.getAttribute('aria-checked').then((a) => a === 'true');
      if (!(await checked())) {
        if (await box.count()) await box.click();
        else await row.click();
      }
      await waitFor(`quick-pick item ${re} checked`, checked, 5000, 100);
    }
    const ok = this.page
      .locator(
        '.quick-input-widget .quick-input-action .monaco-button, .quick-input-widget .quick-input-ok .monaco-button',
      )
      .first();
    if (await ok.isVisible().catch(() => false)) await ok.click();
    else await this.page.keyboard.press('Enter');
    await this.quickInput.waitFor({ state: 'hidden', timeout: 10_000 });
  }

  /** Opens the activity-bar container whose label starts with `label` (does not toggle it closed if open). */
  async showActivityContainer(label: string): Promise<void> {
    const item = this.page
      .locator(
        `.part.activitybar .action-item a.action-label[aria-label^="${label}"], .part.activitybar .action-item[aria-label^="${label}"]`,
      )
      .first();
    await item.waitFor({ state: 'visible', timeout: 30_000 });
    const li = this.page
      .locator('.part.activitybar .action-item', {
        has: this.page.locator(`[aria-label^="${label}"]`),
      })
      .first();
    const cls = (await li.getAttribute('class').catch(() => '')) ?? '';
    const sidebarVisible = await this.page
      .locator('.part.sidebar')
      .isVisible()
      .catch(() => false);
    if (cls.includes('checked') && sidebarVisible) return;
    await item.click();
  }

  /** Rows of the tree view in the side bar pane titled `paneTitle` (e.g. "Runs"). */
  treePane(paneTitle: string): Locator {
    return this.page
      .locator('.part.sidebar .pane', {
        has: this.page.locator('.pane-header', { hasText: new RegExp(`^\\s*${paneTitle}`, 'i') }),
      })
      .first();
  }

  async treeRows(paneTitle: string): Promise<TreeRow[]> {
    const rows = this.treePane(paneTitle).locator('.monaco-list-row');
    return rows.evaluateAll((els) =>
      els.map((el) => {
        const q = (s: string) => el.querySelector(s);
        const icon = q('.custom-view-tree-node-item-icon');
        return {
          label: (q('.label-name')?.textContent ?? '').trim(),
          description: (q('.label-description')?.textContent ?? '').trim(),
          ariaLabel: el.getAttribute('aria-label') ?? '',
          title: q('.monaco-icon-label')?.getAttribute('title') ?? el.getAttribute('title') ?? '',
          iconClass: icon?.className ?? '', // the item's own icon (not the inline action buttons' codicons)
          actions: Array.from(el.querySelectorAll('.actions .action-label')).map(
            (x) => x.getAttribute('aria-label') ?? x.className,
          ),
          text: (el as HTMLElement).innerText.replace(/\s+/g, ' ').trim(),
        };
      }),
    );
  }
}

export interface TreeRow {
  label: string;
  description: string;
  ariaLabel: string;
  title: string;
  iconClass: string;
  actions: string[];
  text: string;
}

// ---------------------------------------------------------------------------------------------------------
// Webviews
// ---------------------------------------------------------------------------------------------------------

/**
 * The content frame (inner `iframe#active-frame` of a visible outer `iframe.webview.ready`) of one of our
 * webviews whose document contains `selector`, or undefined. Frames are re-resolved on every call because
 * VS Code re-creates webview iframes when panels move or are hidden.
 */
export async function findWebviewFrame(
  page: Page,
  selector: string,
  opts: { visibleOnly?: boolean } = {},
): Promise<Frame | undefined> {
  const outers = page.locator('iframe.webview.ready');
  const n = await outers.count();
  for (let i = 0; i < n; i++) {
    const outerEl = outers.nth(i);
    if ((opts.visibleOnly ?? true) && !(await outerEl.isVisible().catch(() => false))) continue;
    const src = (await outerEl.getAttribute('src').catch(() => '')) ?? '';
    if (!src.includes(`extensionId=${EXTENSION_ID}`)) continue;
    const outer = await (
      await outerEl.elementHandle({ timeout: 1000 }).catch(() => null)
    )?.contentFrame();
    if (!outer) continue;
    const innerEl = await outer.$('iframe#active-frame').catch(() => null);
    const inner = await innerEl?.contentFrame();
    if (!inner) continue;
    if (await inner.$(selector).catch(() => null)) return inner;
  }
  return undefined;
}

export async function waitForWebviewFrame(
  page: Page,
  selector: string,
  timeoutMs: number,
): Promise<Frame> {
  return waitFor(
    `a visible webview of ${EXTENSION_ID} containing ${selector}`,
    () => findWebviewFrame(page, selector),
    timeoutMs,
    300,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Runner
// ---------------------------------------------------------------------------------------------------------

export interface TestResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
  skipped?: boolean;
  /** Skipped on purpose (what it needs is missing here), with the reason: neither passed nor failed. */
  skipReason?: string;
}

export class Runner {
  readonly results: TestResult[] = [];
  constructor(private readonly onFailure: (name: string, err: unknown) => Promise<void>) {}

  /** Runs `fn` unless a test in `dependsOn` failed (then it counts as failed, not run). */
  async test(name: string, fn: () => Promise<void>, dependsOn: string[] = []): Promise<boolean> {
    const blocked = dependsOn.filter((d) => !this.results.find((r) => r.name === d)?.ok);
    if (blocked.length) {
      const error = `not run: depends on failed test(s) ${blocked.map((b) => JSON.stringify(b)).join(', ')}`;
      this.results.push({ name, ok: false, ms: 0, error, skipped: true });
      lap(`SKIP(FAIL) ${name} -- ${error}`);
      return false;
    }
    const s = Date.now();
    lap(`---- ${name}`);
    try {
      await fn();
      this.results.push({ name, ok: true, ms: Date.now() - s });
      lap(`PASS ${name} (${((Date.now() - s) / 1000).toFixed(1)}s)`);
      return true;
    } catch (e) {
      const error = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.results.push({ name, ok: false, ms: Date.now() - s, error });
      lap(
        `FAIL ${name} (${((Date.now() - s) / 1000).toFixed(1)}s)\n${error
          .split('\n')
          .slice(0, 6)
          .map((l) => '      ' + l)
          .join('\n')}`,
      );
      await this.onFailure(name, e).catch((x) => lap(`(failure hook failed: ${x})`));
      return false;
    }
  }

  /** Record `name` as skipped with the reason (not run, not a failure): what it needs is missing here. */
  skip(name: string, reason: string): void {
    this.results.push({ name, ok: true, ms: 0, skipped: true, skipReason: reason });
    lap(`SKIP ${name} -- ${reason}`);
  }

  summary(): { passed: number; failed: number; skipped: number } {
    return {
      passed: this.results.filter((r) => r.ok && !r.skipReason).length,
      failed: this.results.filter((r) => !r.ok).length,
      skipped: this.results.filter((r) => r.skipReason).length,
    };
  }
}

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error('assertion failed: ' + msg);
}

export const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60);
