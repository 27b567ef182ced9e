/**
 * The reproduction report: a pure function of (plan, results) → Markdown plus SVG figure files. Per claim: the
 * set-up actually used, the verdict rule (stated before any number), our numbers beside the paper's (as ratios
 * where scales differ), mean ± sd over seeds, the verdict, and figures.
 */
import { ETA_RULE, PENALTY_LABEL, allRunIds, type Arm, type Plan, type RunSpec } from './plan';
import { finalNoisyAcc, finalTestAcc, type Results } from './results';
import { ALPHA_RULE, lengthRule } from './searches';
import { DEFAULT_DETECTOR_OPTIONS } from '../shared/detector';
import { lineChart, scatterChart, type LineSeries } from './svg';
import {
  geomean,
  mean,
  meanCurve,
  movingAverage,
  sd,
  spearman,
  summarize,
  type Curve,
} from './stats';
import {
  RULE_A,
  RULE_B,
  RULE_C,
  RULE_E,
  analyze,
  compareC,
  compareE,
  ratiosA,
  type TableA,
  type Verdict,
} from './verdicts';

export interface ReportMeta {
  /** The command line that produced the runs. */
  command?: string;
  /** ISO time the report was generated. */
  generatedAt?: string;
  /** Wall-clock seconds of the whole reproduction (this invocation). */
  wallSeconds?: number;
  /** Free-form notes: what else was tried, deviations. */
  notes?: string[];
}

export interface Report {
  markdown: string;
  /** Figure files, path relative to the report → SVG text. */
  files: Record<string, string>;
}

/** The paper's numbers used in the tables (arXiv 2012.14193: Tables 1, 3, 4 and Fig. 2). */
export const PAPER = {
  peaks: [
    { setting: 'SimpleCNN, CIFAR-10', eta: 24.21, small: 52.05 },
    { setting: 'VGG-11, CIFAR-100', eta: 50.88, small: 148.19 },
    { setting: 'WRN, CIFAR-100', eta: 26.21, small: 91.39 },
    { setting: 'DenseNet, CIFAR-100', eta: 24.68, small: 98.17 },
  ],
  /** SimpleCNN CIFAR-10 row of Tables 1 (test accuracy, %) and 4 (max Tr(F)). */
  simpleCnn: {
    acc: { eta: 76.94, small: 71.32, gpx: 75.68, gp: 75.73, fisher: 79.66, gpr: 79.76 } as Record<
      string,
      number
    >,
    peak: { eta: 24.21, small: 52.05, gpx: 47.96, gp: 25.03, fisher: 19.63, gpr: 25.35 } as Record<
      string,
      number
    >,
  },
  fig2: [
    { trFi: 370, acc: 93.0 },
    { trFi: 1050, acc: 90.9 },
    { trFi: 1350, acc: 90.0 },
  ],
  noise: {
    25: { test: [41.74, 60.18], clean: [99.79, 79.52], noisy: [99.56, 4.1] },
    50: { test: [30.05, 51.33], clean: null, noisy: null },
  } as Record<
    number,
    { test: [number, number]; clean: [number, number] | null; noisy: [number, number] | null }
  >,
};

const dash = '–';
const f3 = (v: number | null | undefined, d = 3) =>
  v === null || v === undefined || !Number.isFinite(v) ? dash : Number(v.toPrecision(d)).toString();
const fx = (v: number | null | undefined, d = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? dash : v.toFixed(d);
const pctv = (v: number | null | undefined, d = 2) =>
  v === null || v === undefined || !Number.isFinite(v) ? dash : (100 * v).toFixed(d);

/** "mean ± sd (n)" of a sample; `scale` 100 for accuracies shown in percent. */
export function meanSd(
  xs: readonly (number | null)[],
  opts: { scale?: number; digits?: number; sig?: boolean } = {},
): string {
  const s = summarize(xs);
  if (s.mean === null) return dash;
  const k = opts.scale ?? 1;
  const show = (v: number) => (opts.sig ? f3(v * k) : (v * k).toFixed(opts.digits ?? 2));
  const spread = s.sd !== null && s.sd < 1e-9 * Math.max(1, Math.abs(s.mean)) ? 0 : s.sd;
  return `${show(s.mean)}${spread !== null ? ` ± ${show(spread)}` : ''}${s.n > 1 ? ` (n=${s.n})` : ' (n=1)'}`;
}

const badge = (v: Verdict) => `**Verdict: ${v.verdict.toUpperCase()}** — ${v.reason}.`;

const PEAK_HEAD = ['', 'early peak Tr(F), η*', 'early peak Tr(F), η*/10', 'ratio η*/10 ÷ η*'];

/** Claim (a)'s rows for one model: mean ± sd over seeds, then one row per seed. */
function peakRows(t: TableA, meanLabel: string, seedLabel: string): string[][] {
  const rs = ratiosA(t);
  return [
    [
      meanLabel,
      meanSd(
        t.rows.map((r) => r.etaPeak),
        { sig: true },
      ),
      meanSd(
        t.rows.map((r) => r.smallPeak),
        { sig: true },
      ),
      `${fx(geomean(rs))} (geometric mean; sd ${fx(sd(rs))})`,
    ],
    ...t.rows.map((r) => [
      `${seedLabel} ${r.seed}`,
      f3(r.etaPeak),
      f3(r.smallPeak),
      r.etaPeak && r.smallPeak ? fx(r.smallPeak / r.etaPeak) : dash,
    ]),
  ];
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Mean Tr(F) curve of an arm with its sd band, smoothed like the early peak. */
function armLine(
  label: string,
  ids: string[],
  results: Results,
  width: number,
  dashed = false,
): LineSeries | null {
  const curves: Curve[] = ids
    .map((id) => results[id])
    .filter((r) => r && r.state === 'completed')
    .map((r) => ({ step: r.trF.step, y: movingAverage(r.trF.y, width) }));
  if (!curves.length) return null;
  const m = meanCurve(curves);
  return { label: `${label} (n=${curves.length})`, x: m.step, y: m.mean, band: m.sd, dashed };
}

function evalLine(
  label: string,
  ids: string[],
  results: Results,
  key: 'cleanAcc' | 'noisyAcc' | 'testAcc',
  dashed: boolean,
): LineSeries | null {
  const curves: Curve[] = ids
    .map((id) => results[id])
    .filter((r) => r && r.state === 'completed')
    .map((r) => ({
      step: r.evals.step,
      y: r.evals[key].map((v) => (v === null ? null : 100 * v)),
    }));
  if (!curves.length) return null;
  const m = meanCurve(curves);
  return { label: `${label} (n=${curves.length})`, x: m.step, y: m.mean, band: m.sd, dashed };
}

/** The table of an LR search: learning rate, run, state, final test accuracy; the chosen one marked. */
function searchTable(arms: Arm[], chosen: number | null, results: Results): string {
  return table(
    ['learning rate', 'run', 'state', 'final test acc (%)'],
    arms.map((a) => {
      const r = results[a.runIds[0]];
      return [
        String(a.lr) + (a.lr === chosen ? ' **(η*)**' : ''),
        `\`${a.runIds[0]}\``,
        r?.state ?? 'missing',
        pctv(finalTestAcc(r)),
      ];
    }),
  );
}

/** Charts smooth Tr(F) over the detector's window (its level is the mean of this many measurements). */
const SMOOTH = DEFAULT_DETECTOR_OPTIONS.window;

const nonNull = <T>(xs: (T | null)[]) => xs.filter((x): x is T => x !== null);

/** Render the whole report. Pure: the same plan and results give the same text and figures. */
export function renderReport(plan: Plan, results: Results, meta: ReportMeta = {}): Report {
  const s = plan.setup;
  const an = analyze(plan, results);
  const files: Record<string, string> = {};
  const out: string[] = [];
  const claimOf = (id: string) => plan.claims.find((c) => c.claim === id)!;
  const runsById = new Map<string, RunSpec>(plan.runs.map((r) => [r.id, r]));
  const fig = (name: string, svg: string, alt: string) => {
    files[`figures/${name}`] = svg;
    return `![${alt}](figures/${name})`;
  };

  out.push(
    `# Reproduction: "Catastrophic Fisher Explosion" (Jastrzebski et al., ICML 2021) at CPU scale`,
  );
  out.push('');
  out.push(
    `Dataset **${s.dataset.label}**, ${s.quick ? '**quick** mode (fewer steps, seeds and arms; same code path)' : 'full mode'}, ` +
      `${s.seeds.length} seed(s) per arm, η* = **${plan.etaStar}** (chosen by the LR search below).`,
  );
  if (meta.command) out.push(`Command: \`${meta.command}\``);
  const everyRun = allRunIds(plan);
  const trainSeconds = everyRun.reduce((a, id) => a + (results[id]?.summary?.wallSeconds ?? 0), 0);
  if (meta.generatedAt) {
    out.push(
      `Generated ${meta.generatedAt}; training time of the ${everyRun.length} runs (searches included) ${(trainSeconds / 60).toFixed(1)} min` +
        `${meta.wallSeconds !== undefined ? ` (this invocation: ${(meta.wallSeconds / 60).toFixed(1)} min; completed runs are reused)` : ''}.`,
    );
  }
  out.push('');
  out.push(
    'Every run below is an ordinary Fisher Lens run in `runs/` next to this file: open the folder in VS Code to see them in the Runs tree and overlay them with Compare Runs. ' +
      'Verdict rules are fixed in `src/reproduce/verdicts.ts` and stated in each section before the numbers; a claim that does not hold at this scale is reported as such.',
  );
  out.push('');

  out.push('## Summary');
  out.push('');
  out.push(
    table(
      ['claim', 'verdict', 'decisive numbers'],
      [
        ['(a) small LR explodes Tr(F)', an.a.verdict.verdict, an.a.verdict.reason],
        ...(an.aCnn
          ? [['(a) the same, SimpleCNN', an.aCnn.verdict.verdict, an.aCnn.verdict.reason]]
          : []),
        ['(b) early Tr(F_i) predicts test accuracy', an.b.verdict.verdict, an.b.verdict.reason],
        ['(c) Fisher penalty closes the gap', an.c.verdict.verdict, an.c.verdict.reason],
        ['(e) FP limits memorisation', an.e.verdict.verdict, an.e.verdict.reason],
      ],
    ),
  );
  out.push('');

  out.push('## Set-up shared by all claims');
  out.push('');
  out.push(
    `- Data: \`${s.dataset.name}\`${s.dataset.path ? ` from \`${s.dataset.path}\`` : ''}, a seeded ${s.dataset.trainSize}-example training subset, ${s.dataset.testSize} test examples, ${s.numClasses} classes.`,
  );
  out.push(
    `- Model: ${s.modelLabel} (\`${JSON.stringify(s.model)}\`); no BatchNorm, no augmentation, no weight decay.`,
  );
  out.push(
    `- SGD, momentum ${s.momentum}, batch ${s.batchSize}; ${s.steps} steps for (a)–(c) and the searches (${(s.steps / Math.max(1, Math.floor(s.dataset.trainSize / s.batchSize))).toFixed(1)} epochs), (e) as long as its length rule says (below); LR ×0.1 at ${s.milestones.map((m) => `${m * 100}%`).join(' and ')} of the run (the paper's schedule shape).`,
  );
  out.push(
    `- Tr(F): exact, per-example gradients on a fixed seeded probe set of ${s.fisher.probeSize} training examples, labels sampled from the model (true Fisher), every ${s.fisher.every} steps.`,
  );
  out.push(
    `- Early peak (a, c) and Tr(F_i) (b) are the trainer's explosion detector's (src/shared/detector.ts, docs/DETECTOR.md), the same numbers the Runs tree, the chart marker and each run's \`summary.json\` show (\`peakTrF\`, \`trFi\`): a level is the mean of ${DEFAULT_DETECTOR_OPTIONS.window} consecutive Tr(F) measurements; the early phase runs from step 0 to the first LR drop (${s.milestones[0] * 100}% of the run, so it scales with the run's length); the early peak is its highest level.`,
  );
  out.push(
    `- Tr(F_i) (b): the detector's level when an EMA (span ${DEFAULT_DETECTOR_OPTIONS.lossSpan}) of the training loss first falls to ε = ${s.fisher.lossThreshold} (0.25·ln K; the paper used 1.2 on CIFAR-10).`,
  );
  out.push(
    `- Penalties (c, e): α of each chosen by a search before any claim run (below): ${plan.alphaSearches.map((a) => `${PENALTY_LABEL[a.kind]}${a.noise > 0 ? ` at ${Math.round(a.noise * 100)}% noise` : ''} α = ${a.choice.alpha}${a.choice.found ? '' : ' (no helpful α found)'}`).join(', ') || 'none'}; penalty gradient recomputed every ${s.penaltyEvery} steps and reused in between (the paper's scheme).`,
  );
  out.push(
    `- Seeds ${s.seeds.join(', ')} (initialisation, data order, probe set, label noise); backend \`${s.backend}\`.`,
  );
  out.push(
    `- Scale relative to the paper: ${s.dataset.trainSize} examples and ${s.steps} steps instead of 50k examples and 300 epochs; absolute Tr(F) and accuracies are not comparable, so the tables compare ratios and differences.`,
  );
  out.push('');

  // ---------------------------------------------------------------- LR search
  out.push('## LR search (η*)');
  out.push('');
  out.push(
    `Rule: ${ETA_RULE} Search runs use seed ${s.search.seed}, which no claim uses. The trainer has no separate validation split, so the choice uses test accuracy of that separate seed.`,
  );
  out.push('');
  out.push(searchTable(plan.search, plan.etaStar, results));
  out.push('');
  out.push(`η* = ${plan.etaStar}; η*/10 = ${Number((plan.etaStar / 10).toPrecision(3))}.`);
  out.push('');
  if (plan.cnnSearch.length) {
    out.push(
      `SimpleCNN (its own search, same rule, seed ${s.search.seed}, ${s.cnn?.steps} steps): η* = **${plan.cnnEtaStar}**.`,
    );
    out.push('');
    out.push(searchTable(plan.cnnSearch, plan.cnnEtaStar, results));
    out.push('');
  }

  // ---------------------------------------------------------------- α search
  out.push('## α search (penalty coefficients)');
  out.push('');
  out.push(`Rule: ${ALPHA_RULE}`);
  out.push('');
  if (!plan.alphaSearches.length) out.push('No α search in this plan.');
  for (const a of plan.alphaSearches) {
    const base = finalTestAcc(results[a.baseRunId]);
    out.push(
      `**${PENALTY_LABEL[a.kind]}${a.noise > 0 ? `, ${Math.round(a.noise * 100)}% label noise` : ''}** at η = ${a.lr}, ${a.steps} steps: α = **${a.choice.alpha}**${a.choice.found ? '' : ' — **α search found no helpful value**'} (${a.choice.reason}).`,
    );
    out.push('');
    out.push(
      table(
        ['α', 'run', 'state', 'final test acc (%)', 'vs unpenalised (pp)'],
        [
          [
            'none',
            `\`${a.baseRunId}\``,
            results[a.baseRunId]?.state ?? 'missing',
            pctv(base),
            dash,
          ],
          ...a.runs.map((r) => {
            const acc = finalTestAcc(results[r.runId]);
            return [
              String(r.alpha) + (r.alpha === a.choice.alpha ? ' **(chosen)**' : ''),
              `\`${r.runId}\``,
              results[r.runId]?.state ?? 'missing',
              pctv(acc),
              acc !== null && base !== null ? fx(100 * (acc - base)) : dash,
            ];
          }),
        ],
      ),
    );
    out.push('');
  }

  // ---------------------------------------------------------------- (a)
  const ca = claimOf('a');
  out.push(`## (a) ${ca.title}`);
  out.push('');
  out.push(
    `Set-up: ${ca.arms.map((a) => a.label).join(' vs ')}, ${s.seeds.length} seed(s) each, ${s.steps} steps.`,
  );
  out.push('');
  out.push(`Rule: ${RULE_A}`);
  out.push('');
  const ta = an.a.table;
  const paperRows = PAPER.peaks.map((p) => [
    `paper: ${p.setting}`,
    f3(p.eta, 4),
    f3(p.small, 4),
    fx(p.small / p.eta),
  ]);
  out.push(
    table(PEAK_HEAD, [
      ...paperRows,
      ...peakRows(ta, '**ours** (mean ± sd over seeds)', 'ours, seed'),
    ]),
  );
  out.push('');
  out.push(badge(an.a.verdict));
  out.push('');
  const aLines = nonNull(ca.arms.map((a) => armLine(a.label, a.runIds, results, SMOOTH)));
  out.push(
    fig(
      'a-trf.svg',
      lineChart(
        {
          title: 'Tr(F) per step: η* vs η*/10 (mean ± sd over seeds)',
          xLabel: 'step',
          yLabel: 'Tr(F)',
          logY: true,
        },
        aLines,
      ),
      'Tr(F) per step for η* and η*/10',
    ),
  );
  out.push('');

  if (an.aCnn) {
    const cnnClaim = claimOf('a-cnn');
    const tn = an.aCnn.table;
    out.push(`### (a) with SimpleCNN`);
    out.push('');
    out.push(
      `Set-up: ${s.cnn?.modelLabel}; ${cnnClaim.arms.map((a) => a.label).join(' vs ')} (η* from its own LR search above), ${s.seeds.length} seed(s) each, ${s.cnn?.steps} steps. Same rule as (a).`,
    );
    out.push('');
    out.push(
      table(
        PEAK_HEAD,
        peakRows(tn, '**ours, SimpleCNN** (mean ± sd over seeds)', 'SimpleCNN, seed'),
      ),
    );
    out.push('');
    out.push(badge(an.aCnn.verdict));
    out.push('');
    out.push(
      fig(
        'a-cnn-trf.svg',
        lineChart(
          {
            title: 'SimpleCNN: Tr(F) per step, η* vs η*/10 (mean ± sd over seeds)',
            xLabel: 'step',
            yLabel: 'Tr(F)',
            logY: true,
          },
          nonNull(cnnClaim.arms.map((a) => armLine(a.label, a.runIds, results, SMOOTH))),
        ),
        'SimpleCNN: Tr(F) per step for η* and η*/10',
      ),
    );
    out.push('');
  }

  // ---------------------------------------------------------------- (b)
  const cb = claimOf('b');
  out.push(`## (b) ${cb.title}`);
  out.push('');
  out.push(
    `Set-up: ${cb.arms.length} learning rates (${cb.arms.map((a) => a.lr).join(', ')}) × ${s.seeds.length} seed(s), ${s.steps} steps each; Tr(F_i) at training loss ε = ${s.fisher.lossThreshold}.`,
  );
  out.push('');
  out.push(`Rule: ${RULE_B}`);
  out.push('');
  const tb = an.b.table;
  out.push(
    table(
      ['learning rate', 'Tr(F_i)', 'final test acc (%)', 'final train loss'],
      cb.arms.map((a) => {
        const pts = tb.points.filter((p) => p.lr === a.lr);
        return [
          a.label,
          meanSd(
            pts.map((p) => p.trFi),
            { sig: true },
          ),
          meanSd(
            pts.map((p) => p.testAcc),
            { scale: 100 },
          ),
          meanSd(
            pts.map((p) => p.finalTrainLoss),
            { sig: true },
          ),
        ];
      }),
    ),
  );
  out.push('');
  const armMeans = cb.arms
    .map((a) => {
      const pts = tb.points.filter((p) => p.lr === a.lr);
      return { trFi: mean(pts.map((p) => p.trFi)), acc: mean(pts.map((p) => p.testAcc)) };
    })
    .filter((m) => m.trFi !== null && m.acc !== null);
  const rhoMeans =
    armMeans.length >= 2
      ? spearman(
          armMeans.map((m) => m.trFi as number),
          armMeans.map((m) => m.acc as number),
        )
      : null;
  out.push(
    table(
      ['', 'Spearman ρ (Tr(F_i), test acc)', 'points'],
      [
        [
          'paper: Fig. 2, CIFAR-10 (read off the plot: Tr(F_i) 370 / 1050 / 1350 → 93.0 / 90.9 / 90.0 %)',
          '−1.00',
          '3 settings',
        ],
        [
          '**ours**, all runs',
          `${fx(an.b.rho)} (one-sided permutation p = ${f3(an.b.p)})`,
          String(an.b.n),
        ],
        ['ours, per-LR means', fx(rhoMeans), String(armMeans.length)],
      ],
    ),
  );
  out.push('');
  out.push(badge(an.b.verdict));
  out.push('');
  out.push(
    'Caveat: every learning rate trains for the same number of steps; a small learning rate can end less converged (see the final train loss column), which lowers its test accuracy for a reason other than its early Tr(F).',
  );
  out.push('');
  const scatter = cb.arms.map((a) => ({
    label: `η = ${a.lr}`,
    points: tb.points
      .filter((p) => p.lr === a.lr && p.trFi !== null && p.testAcc !== null)
      .map((p) => ({ x: p.trFi as number, y: 100 * (p.testAcc as number) })),
  }));
  out.push(
    fig(
      'b-scatter.svg',
      scatterChart(
        {
          title: 'Early Tr(F_i) vs final test accuracy (one point per run)',
          xLabel: 'Tr(F_i)',
          yLabel: 'final test accuracy (%)',
          logX: true,
        },
        scatter,
      ),
      'Tr(F_i) vs final test accuracy',
    ),
  );
  out.push('');

  // ---------------------------------------------------------------- (c)
  const cc = claimOf('c');
  out.push(`## (c) ${cc.title}`);
  out.push('');
  out.push(
    `Set-up: ${cc.arms.map((a) => a.label).join('; ')}; ${s.seeds.length} seed(s), ${s.steps} steps each.`,
  );
  out.push('');
  out.push(`Rule: ${RULE_C}`);
  out.push('');
  const tc = an.c.table;
  const keys = tc.arms.map((a) => a.key);
  const head = [
    '',
    ...tc.arms.map((a) =>
      a.key === 'eta'
        ? 'η*'
        : a.key === 'small'
          ? 'η*/10'
          : `η*/10 + ${PENALTY_LABEL[a.key as keyof typeof PENALTY_LABEL]}`,
    ),
  ];
  const pa = PAPER.simpleCnn;
  const ourAccMean = (k: string) => mean(tc.arms.find((a) => a.key === k)?.testAcc ?? []);
  const ourPeakMean = (k: string) => mean(tc.arms.find((a) => a.key === k)?.peak ?? []);
  out.push(
    table(head, [
      ['paper test acc (%), SimpleCNN C10', ...keys.map((k) => fx(pa.acc[k]))],
      ['**ours** test acc (%)', ...tc.arms.map((a) => meanSd(a.testAcc, { scale: 100 }))],
      ['paper Δacc vs η*/10 (pp)', ...keys.map((k) => fx(pa.acc[k] - pa.acc.small))],
      [
        '**ours** Δacc vs η*/10 (pp)',
        ...keys.map((k) => {
          const a = ourAccMean(k);
          const b = ourAccMean('small');
          return a !== null && b !== null ? fx(100 * (a - b)) : dash;
        }),
      ],
      ['paper max Tr(F)', ...keys.map((k) => fx(pa.peak[k]))],
      ['**ours** early peak Tr(F)', ...tc.arms.map((a) => meanSd(a.peak, { sig: true }))],
      ['paper peak ÷ peak(η*/10)', ...keys.map((k) => fx(pa.peak[k] / pa.peak.small))],
      [
        '**ours** peak ÷ peak(η*/10)',
        ...keys.map((k) => {
          const a = ourPeakMean(k);
          const b = ourPeakMean('small');
          return a !== null && b ? fx(a / b) : dash;
        }),
      ],
    ]),
  );
  out.push('');
  const cf = compareC(tc, 'fisher');
  out.push(
    `Gap closure by FP — paper (SimpleCNN): accuracy ${fx((pa.acc.fisher - pa.acc.small) / (pa.acc.eta - pa.acc.small))}, peak ${fx((pa.peak.small - pa.peak.fisher) / (pa.peak.small - pa.peak.eta))}; ours: accuracy ${fx(cf.accClosure)}, peak ${fx(cf.closure)} (1 = all the way to η*; n/a when η*/10 is not below η* in accuracy, or not above it in peak).`,
  );
  out.push('');
  out.push(badge(an.c.verdict));
  for (const x of an.c.secondary)
    out.push(
      `- Secondary, ${PENALTY_LABEL[x.key as keyof typeof PENALTY_LABEL]} by the same rule: ${x.verdict.verdict} — ${x.verdict.reason}.`,
    );
  out.push('');
  const cLines = nonNull(
    cc.arms.map((a) => armLine(a.label, a.runIds, results, SMOOTH, a.penalty !== 'none')),
  );
  out.push(
    fig(
      'c-trf.svg',
      lineChart(
        {
          title: 'Tr(F) per step with and without penalties (mean ± sd over seeds)',
          xLabel: 'step',
          yLabel: 'Tr(F)',
          logY: true,
        },
        cLines,
      ),
      'Tr(F) per step for the penalty arms',
    ),
  );
  out.push('');

  // ---------------------------------------------------------------- (e)
  const ce = claimOf('e');
  out.push(`## (e) ${ce.title}`);
  out.push('');
  out.push(
    `Set-up: uniform label noise (every corrupted label really changes) at ${s.noiseFractions.map((f) => `${f * 100}%`).join(' and ')}, η*/10 = ${Number((plan.etaStar / 10).toPrecision(3))} with and without FP (α and length per level below), ${s.seeds.length} seed(s); clean and noisy accuracy on tracked training subsets of up to ${s.noiseTrackSize} examples each (noisy ones w.r.t. their wrong label, so high = memorised).`,
  );
  out.push('');
  out.push(`Rule: ${RULE_E}`);
  out.push('');
  out.push(`Length rule: ${lengthRule(s)}`);
  out.push('');
  out.push(
    table(
      [
        'noise',
        'lengths tried (search-seed baseline: memorised noisy labels)',
        'length used',
        'ended by',
        'FP α',
      ],
      plan.noiseLengths.map((n) => [
        `${Math.round(n.noise * 100)}%`,
        n.tries
          .map(
            (t) =>
              `${t.steps}: ${t.state === 'completed' ? pctv(finalNoisyAcc(results[t.runId]) ?? t.noisyAcc, 1) + '%' : t.state}`,
          )
          .join('; '),
        String(n.steps),
        `**${n.endedBy}**`,
        String(
          plan.alphaSearches.find((a) => a.kind === 'fisher' && a.noise === n.noise)?.choice
            .alpha ?? dash,
        ),
      ]),
    ),
  );
  out.push('');
  const rowsE: string[][] = [];
  for (const l of an.e.table.levels) {
    const pct = Math.round(l.noise * 100);
    const p = PAPER.noise[pct];
    if (p) {
      rowsE.push([
        `paper ${pct}%, VGG-11, baseline → FP`,
        p.clean ? `${p.clean[0]} → ${p.clean[1]}` : 'not given',
        p.noisy ? `${p.noisy[0]} → ${p.noisy[1]}` : 'not given',
        `${p.test[0]} → ${p.test[1]}`,
      ]);
    }
    rowsE.push([
      `**ours** ${pct}%, η*/10`,
      meanSd(l.base.clean, { scale: 100, digits: 1 }),
      meanSd(l.base.noisy, { scale: 100, digits: 1 }),
      meanSd(l.base.test, { scale: 100 }),
    ]);
    rowsE.push([
      `**ours** ${pct}%, η*/10 + FP`,
      meanSd(l.fp.clean, { scale: 100, digits: 1 }),
      meanSd(l.fp.noisy, { scale: 100, digits: 1 }),
      meanSd(l.fp.test, { scale: 100 }),
    ]);
    const c = compareE(l);
    const paperDrop =
      p?.clean && p.noisy
        ? `paper: noisy drop ${fx(p.noisy[0] - p.noisy[1], 1)} pp vs clean drop ${fx(p.clean[0] - p.clean[1], 1)} pp (${fx((p.noisy[0] - p.noisy[1]) / (p.clean[0] - p.clean[1]))}×)`
        : 'paper: not given';
    rowsE.push([
      `drop with FP, ${pct}%`,
      `dC ${pctv(c.dC, 1)} pp`,
      `dN ${pctv(c.dN, 1)} pp`,
      paperDrop,
    ]);
  }
  out.push(
    table(['', 'final train acc, clean (%)', 'final train acc, noisy (%)', 'test acc (%)'], rowsE),
  );
  out.push('');
  out.push(badge(an.e.verdict));
  for (const v of an.e.levels) out.push(`- ${v.verdict}: ${v.reason}.`);
  out.push('');
  for (const f of s.noiseFractions) {
    const pct = Math.round(f * 100);
    const base = ce.arms.find((a) => a.noise === f && a.penalty === 'none');
    const fp = ce.arms.find((a) => a.noise === f && a.penalty === 'fisher');
    const lines = nonNull(
      [
        base && evalLine('η*/10, clean', base.runIds, results, 'cleanAcc', false),
        base && evalLine('η*/10, noisy', base.runIds, results, 'noisyAcc', true),
        fp && evalLine('η*/10 + FP, clean', fp.runIds, results, 'cleanAcc', false),
        fp && evalLine('η*/10 + FP, noisy', fp.runIds, results, 'noisyAcc', true),
      ].map((x) => x ?? null),
    );
    out.push(
      fig(
        `e-curves-n${pct}.svg`,
        lineChart(
          {
            title: `${pct}% label noise: training accuracy on clean vs noisy examples`,
            xLabel: 'step',
            yLabel: 'train accuracy (%)',
          },
          lines,
        ),
        `clean vs noisy training accuracy, ${pct}% noise`,
      ),
    );
    out.push('');
  }

  // ---------------------------------------------------------------- runs and notes
  out.push('## Runs');
  out.push('');
  const allIds = allRunIds(plan);
  out.push(
    table(
      ['run id', 'state', 'steps', 'wall s', 'test acc (%)', 'Tr(F_i)'],
      [...new Set(allIds)].map((id) => {
        const r = results[id];
        const spec = runsById.get(id);
        return [
          `\`${id}\``,
          r?.state ?? 'missing',
          String(r?.summary?.steps ?? spec?.steps ?? dash),
          fx(r?.summary?.wallSeconds ?? null, 0),
          pctv(finalTestAcc(r)),
          f3(r?.trFi ?? null),
        ];
      }),
    ),
  );
  out.push('');
  out.push('## Notes: what was tried, deviations from the paper');
  out.push('');
  const notes = [
    `A multi-layer perceptron instead of the paper's CNNs/ResNets${s.cnn ? ` (the paper's SimpleCNN for (a) only, ${s.cnn.steps} steps: it costs ~30× an MLP step on a CPU)` : ' (the SimpleCNN arms of (a) need the PyTorch engine; this run had none)'}, and a few thousand steps instead of 300 epochs: the whole reproduction has to fit ~90 minutes on two CPU cores (measured step times: docs/reproduction/README.md).`,
    `α was searched per penalty (and per noise level for (e)) over {${s.alphaSearch.grid.join(', ')}} ({${s.alphaSearch.noiseGrid.join(', ')}} for (e)), points of the paper's 10 log-spaced values in [0.001, 0.1], on the search seed, by the rule above; the paper searched all 10 per setting.`,
    'η*, every α and the (e) lengths were chosen once, by the rules above, on a seed no claim uses, before any claim run; the claims were not re-run with other settings to change a verdict.',
    'The development runs that fixed this set-up (step times, α = 0.01 vs 0.1 vs 1, a narrowed SimpleCNN that was too slow) are listed in docs/reproduction/README.md of the Fisher Lens repository.',
    ...(meta.notes ?? []),
  ];
  for (const n of notes) out.push(`- ${n}`);
  out.push('');
  return { markdown: out.join('\n'), files };
}
