/**
 * Run management end to end (part of fisher-lens.e2e.ts): rename, notes and tags of a run (kept in its user.json;
 * the Runs tree shows the new name and tags), filtering the Runs tree by `#tag`, and the Runs Table — sorting,
 * filtering, its parallel-coordinates chart, ticking two runs → Compare opens with them, summary and config
 * diff above the charts with the LR and explosion columns — with screenshots of the table and Compare in a light
 * and a dark theme.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Frame } from 'playwright-core';
import { assert, lap, waitFor, waitForWebviewFrame, type Runner } from '../harness';
import {
  answerInputBox,
  commandToInputBox,
  pickRunRow,
  readJson,
  runDir,
  setTheme,
  showTab,
  themedFrame,
  themeKind,
  type StepsCtx,
} from './common';

const NAME = 'e2e renamed run';
const NOTES = 'notes written by the e2e test';
const TAG = 'e2e-tag';
const RUNS_PANE = 'Runs';

/** Rows of the Runs Table: run id (first line of the name cell's tooltip), shown name, cells by header. */
async function tableRows(t: Frame) {
  return t.evaluate(() => {
    const heads = [...document.querySelectorAll('#runs-table thead th')].map((h) =>
      (h.textContent ?? '').replace(/[▲▼]/g, '').trim(),
    );
    return [...document.querySelectorAll<HTMLTableRowElement>('#runs-table tbody tr')].map((tr) => {
      const cells = [...tr.cells].map((c) => (c.textContent ?? '').trim());
      return {
        runId: (tr.cells[1]?.title ?? '').split('\n')[0],
        name: cells[1],
        byHead: Object.fromEntries(heads.map((h, i) => [h, cells[i]])),
      };
    });
  });
}

const num = (s: string | undefined) =>
  s && /\d/.test(s) ? Number(s.replace(/[^\d.eE+-]/g, '')) : NaN;

export async function runManagementTests(
  runner: Runner,
  c: StepsCtx,
  dependsOn: string[],
): Promise<void> {
  const T_META =
    'Rename / Edit Run Notes / Edit Run Tags from the palette: user.json written, the Runs tree shows the name and tags; Filter Runs… by #tag';
  await runner.test(
    T_META,
    async () => {
      const wb = c.wb();
      const id = c.ids.first!;
      await wb.runCommand('Fisher Lens: Rename Run…');
      await pickRunRow(wb, id);
      await answerInputBox(wb, /Rename/, NAME);
      await wb.runCommand('Fisher Lens: Edit Run Notes…');
      await pickRunRow(wb, id);
      await answerInputBox(wb, /Notes/, NOTES);
      await wb.runCommand('Fisher Lens: Edit Run Tags…');
      await pickRunRow(wb, id);
      await answerInputBox(wb, /Tags/, `${TAG} paper`);
      const user = await waitFor(
        `${id}/user.json with name, notes and tags`,
        () => {
          const u = readJson(path.join(runDir(c, id), 'user.json'));
          return u?.name === NAME &&
            u?.notes === NOTES &&
            Array.isArray(u?.tags) &&
            u.tags.length === 2
            ? u
            : undefined;
        },
        20_000,
      );
      lap(`user.json: ${JSON.stringify(user)}`);
      const status = readJson(path.join(runDir(c, id), 'status.json'));
      assert(
        status?.state === 'completed',
        `the trainer's status.json is untouched (${status?.state})`,
      );
      await wb.showActivityContainer('Fisher Lens');
      let last: unknown;
      const row = await waitFor(
        `the Runs tree row named "${NAME}" with its tags`,
        async () => {
          const rows = await wb.treeRows(RUNS_PANE);
          last = rows.find((r) => r.label === NAME) ?? rows.map((r) => r.label);
          return rows.find((r) => r.label === NAME && r.description.includes(`#${TAG} #paper`));
        },
        20_000,
        300,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}; last: ${JSON.stringify(last)}`);
      });
      lap(`tree row: ${JSON.stringify(row)}`);
      assert(
        !(await wb.treeRows(RUNS_PANE)).some((r) => r.label === id),
        'the run is no longer listed under its id',
      );
      // Filter the tree by the tag: only that run is left, and the filter is named above the list.
      const before = (await wb.treeRows(RUNS_PANE)).length;
      await commandToInputBox(wb, 'Fisher Lens: Filter Runs…', /Filter runs/i, `#${TAG}`);
      try {
        const filtered = await waitFor(
          'the tree filtered to the tagged run',
          async () => {
            const rows = await wb.treeRows(RUNS_PANE);
            return rows.length === 1 && rows[0].label === NAME ? rows : undefined;
          },
          20_000,
          300,
        );
        // The view names the filter above the list: `Filter "#e2e-tag": 1 of N runs`.
        const message = await waitFor(
          'the filter named in the Runs view',
          async () => {
            const t = await wb.page.locator('.part.sidebar').innerText();
            return /Filter "#e2e-tag": 1 of \d+ runs/.exec(t)?.[0];
          },
          10_000,
          300,
        );
        lap(`filtered: ${filtered.map((r) => r.label)} (of ${before}); message "${message}"`);
        await c.browse().screenshot('runs-tree-filtered');
      } finally {
        await wb.runCommand('Fisher Lens: Clear Runs Filter');
      }
      await waitFor(
        'every run listed again',
        async () => (await wb.treeRows(RUNS_PANE)).length >= before || undefined,
        20_000,
        300,
      );
    },
    dependsOn,
  );

  const T_TABLE =
    'Runs Table: sort by a column, filter by #tag, parallel coordinates, tick two runs → Compare opens with them, summary and diff at the top (LR, explosion columns); light and dark screenshots';
  await runner.test(T_TABLE, async () => {
    const wb = c.wb();
    // Dark first (code-server starts in a light theme), then light.
    if ((await themeKind(wb)) !== 'dark') await setTheme(wb, 'dark');
    // The first run and the stopped long one when there is one (Compare showed the first two before).
    const [a, b] = [c.ids.first!, c.ids.third ?? c.ids.second!];
    await wb.runCommand('Fisher Lens: Runs Table');
    const t = await waitForWebviewFrame(wb.page, '#runs-table', 30_000);
    const rows = await waitFor(
      'the table lists both runs (the first by its new name)',
      async () => {
        const rs = await tableRows(t);
        return rs.some((r) => r.runId === a && r.name.includes(NAME)) &&
          rs.some((r) => r.runId === b)
          ? rs
          : undefined;
      },
      30_000,
      300,
    );
    lap(`runs table: ${rows.length} rows; columns ${Object.keys(rows[0].byHead).join(' | ')}`);
    for (const col of ['LR', 'Peak Tr(F)', 'Final test acc.'])
      assert(col in rows[0].byHead, `a "${col}" column (${Object.keys(rows[0].byHead)})`);
    // Sort by LR: ascending, then descending.
    for (const dir of ['asc', 'desc'] as const) {
      await t.locator('#runs-table thead th', { hasText: /^LR/ }).first().click();
      const lrs = await waitFor(
        `rows sorted by LR (${dir})`,
        async () => {
          const sorted = await t.$eval('#runs-table thead th[data-sort]', (h) => [
            (h.textContent ?? '').trim(),
            (h as HTMLElement).dataset.sort,
          ]);
          if (!/^LR/.test(sorted[0] ?? '') || sorted[1] !== dir) return undefined;
          return (await tableRows(t)).map((r) => num(r.byHead.LR)).filter(Number.isFinite);
        },
        10_000,
        200,
      );
      lap(`LR column sorted ${dir}: ${lrs.join(', ')}`);
      assert(lrs.length >= 2, 'at least two runs have an LR');
      assert(
        lrs.every((v, i) => i === 0 || (dir === 'asc' ? v >= lrs[i - 1] : v <= lrs[i - 1])),
        `LR column ${dir} (${lrs.join(', ')})`,
      );
    }
    const lines = () => t.$$eval('#parallel svg path.run', (ps) => ps.length);
    const allLines = await lines();
    lap(`parallel coordinates: ${allLines} lines`);
    assert(allLines >= 2, `a line per run in the parallel-coordinates chart (${allLines})`);
    // Readable lines in a dark theme (and the light one, in the screenshots): nearly opaque, ≥ 2 px.
    const look = await t.$eval('#parallel svg path.run', (p) => {
      const cs = getComputedStyle(p);
      return { opacity: Number(cs.opacity), width: parseFloat(cs.strokeWidth), stroke: cs.stroke };
    });
    lap(`parallel-coordinates line: ${JSON.stringify(look)}`);
    assert(look.opacity >= 0.8 && look.width >= 2, `lines not faint (${JSON.stringify(look)})`);
    const axes = await t.$$eval('#parallel svg g.axis', (g) => g.length);
    assert(axes >= 2, `parallel coordinates over ≥ 2 axes (${axes})`);
    // Filter by the tag: one row, one line.
    const setFilter = (v: string) =>
      t.evaluate((v) => {
        const el = document.getElementById('runs-filter') as HTMLElement & { value: string };
        el.value = v;
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, v);
    await setFilter(`#${TAG}`);
    const count = await waitFor(
      'the table filtered to the tagged run',
      async () => {
        const rs = await tableRows(t);
        const n = await t.$eval('#runs-count', (e) => e.textContent ?? '');
        return rs.length === 1 && rs[0].runId === a && /^1 of \d+ runs$/.test(n) ? n : undefined;
      },
      10_000,
      200,
    );
    assert(
      (await lines()) === 1,
      `one parallel-coordinates line while filtered (${await lines()})`,
    );
    lap(`filter #${TAG}: ${count}`);
    await setFilter('');
    await waitFor('all rows back', async () => (await tableRows(t)).length === rows.length, 10_000);
    // Tick the two runs and compare them.
    for (const id of [a, b])
      await t
        .locator('#runs-table tbody tr', {
          has: t.locator(`td[title^="${id}"]`),
        })
        .locator('input[type=checkbox]')
        .click();
    await waitFor(
      'Compare selected (2) enabled',
      async () =>
        (
          await t.$eval('#compare-selected', (e) =>
            e.hasAttribute('disabled') ? '' : (e.textContent ?? ''),
          )
        ).includes('(2)'),
      10_000,
      200,
    );
    const ticked = await t.$$eval('#parallel svg path.run.ticked', (ps) => ps.length);
    assert(ticked === 2, `the two ticked runs are highlighted in the chart (${ticked})`);
    await c.browse().screenshot('runs-table-dark');
    await t.locator('#compare-selected').click();
    const cmp = await waitFor(
      'Compare with exactly the two ticked runs',
      async () => {
        const f = await waitForWebviewFrame(wb.page, '#compare-legend', 5000).catch(() => null);
        const runs = await f
          ?.$$eval('#compare-legend .legend-item', (els) =>
            els.map((e) => (e as HTMLElement).dataset.run ?? ''),
          )
          .catch((): string[] => []);
        return f && runs?.length === 2 && runs.includes(a) && runs.includes(b) ? f : undefined;
      },
      30_000,
      500,
    );
    const head = await waitFor(
      'the compare summary filled',
      async () => {
        const h = await cmp.$$eval('#summary-table thead th', (ths) =>
          ths.map((x) => (x.textContent ?? '').trim()),
        );
        const n = await cmp.$$eval('#summary-table tbody tr', (r) => r.length);
        return n === 2 ? h : undefined;
      },
      30_000,
      300,
    );
    lap(`compare summary columns: ${head.join(' | ')}`);
    assert(head.includes('LR'), `the summary has an LR column (${head})`);
    assert(
      head.some((h) => /^Explosion/.test(h)),
      `the summary has an explosion column (${head})`,
    );
    const tops = await cmp.evaluate(() => {
      const top = (s: string) => document.querySelector(s)?.getBoundingClientRect().top ?? NaN;
      return {
        summary: top('#summary-table'),
        diff: top('#config-diff'),
        charts: top('#compare-charts'),
      };
    });
    lap(`compare layout (top, px): ${JSON.stringify(tops)}`);
    assert(
      tops.summary < tops.charts && tops.diff < tops.charts,
      `summary and config diff above the charts (${JSON.stringify(tops)})`,
    );
    await c.browse().screenshot('compare-dark');
    // The light theme: both views, then back to dark.
    await setTheme(wb, 'light');
    await themedFrame(wb, '#compare-legend', 'light');
    await c.browse().screenshot('compare-light');
    await showTab(wb, /Fisher Lens: runs/);
    const tl = await themedFrame(wb, '#runs-table', 'light');
    // Every line stands out from the light background (WCAG contrast ≥ 3:1 for graphics).
    const contrasts = await waitFor(
      'the parallel coordinates redrawn in the light theme',
      () =>
        tl.evaluate(() => {
          const rgb = (s: string) => (s.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map(Number);
          const lum = (c: number[]) => {
            const [r, g, b] = c.map((v) => {
              const x = v / 255;
              return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
            });
            return 0.2126 * r + 0.7152 * g + 0.0722 * b;
          };
          const bg = lum(rgb(getComputedStyle(document.body).backgroundColor));
          if (bg < 0.5) return undefined; // not redrawn yet
          return [...document.querySelectorAll<SVGPathElement>('#parallel svg path.run')].map(
            (p) => {
              const l = lum(rgb(getComputedStyle(p).stroke));
              return Number(((Math.max(l, bg) + 0.05) / (Math.min(l, bg) + 0.05)).toFixed(2));
            },
          );
        }),
      10_000,
      300,
    );
    lap(`light theme: line contrast ${contrasts.join(', ')}`);
    assert(
      contrasts.length >= 2 && contrasts.every((k) => k >= 3),
      `every parallel-coordinates line contrasts ≥ 3:1 with the light background (${contrasts})`,
    );
    await c.browse().screenshot('runs-table-light');
    await setTheme(wb, 'dark');
    await themedFrame(wb, '#runs-table', 'dark');
    assert(fs.existsSync(path.join(runDir(c, a), 'user.json')), 'user.json still there');
  }, [T_META]);
}
