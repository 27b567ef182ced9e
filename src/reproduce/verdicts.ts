/**
 * Result tables per claim (built from the plan and the run results) and the verdict rules over them. The rules
 * are fixed here, printed in the report before any number, and are pure functions of a table, so synthetic
 * tables test them. A claim that does not hold at this scale is reported as such.
 */
import type { Plan } from './plan';
import {
  earlyPeakOf,
  finalCleanAcc,
  finalNoisyAcc,
  finalTestAcc,
  finalTrainLoss,
  trFi,
  type Results,
} from './results';
import { finite, geomean, mean, se, spearman, spearmanPermutationP } from './stats';

export type VerdictKind = 'holds' | 'does not hold' | 'inconclusive';

export interface Verdict {
  verdict: VerdictKind;
  /** One sentence with the decisive numbers. */
  reason: string;
}

// ---------------------------------------------------------------------------------------------------- (a)

export interface TableA {
  rows: {
    seed: number;
    etaPeak: number | null;
    smallPeak: number | null;
    etaRun: string;
    smallRun: string;
  }[];
}

export const A_MIN_RATIO = 1.5;

export const RULE_A =
  `For every seed, r = early peak of Tr(F) at η*/10 ÷ early peak at η*. **Holds** if the geometric mean of r ` +
  `over seeds is ≥ ${A_MIN_RATIO} (our pre-registered CPU-scale prediction; the paper itself reports 2.15–3.98) and r > 1 for every seed; **does not hold** if the ` +
  `geometric mean is ≤ 1 (the small learning rate peaks no higher); **inconclusive** otherwise, or when no seed ` +
  `has both runs completed.`;

export const ratiosA = (t: TableA): number[] =>
  t.rows
    .filter((r) => r.etaPeak !== null && r.smallPeak !== null && r.etaPeak > 0)
    .map((r) => (r.smallPeak as number) / (r.etaPeak as number));

export function verdictA(t: TableA): Verdict {
  const rs = ratiosA(t);
  if (!rs.length)
    return { verdict: 'inconclusive', reason: 'no seed has both runs completed with a Tr(F) peak' };
  const g = geomean(rs) as number;
  const desc = `geometric-mean ratio ${g.toFixed(2)} over ${rs.length} seed(s), per seed ${rs.map((r) => r.toFixed(2)).join(', ')}`;
  if (g >= A_MIN_RATIO && rs.every((r) => r > 1)) return { verdict: 'holds', reason: desc };
  if (g <= 1) return { verdict: 'does not hold', reason: desc };
  return { verdict: 'inconclusive', reason: `${desc} (needs ≥ ${A_MIN_RATIO} and every seed > 1)` };
}

// ---------------------------------------------------------------------------------------------------- (b)

export interface PointB {
  runId: string;
  lr: number;
  seed: number;
  trFi: number | null;
  testAcc: number | null;
  finalTrainLoss: number | null;
}

export interface TableB {
  points: PointB[];
}

export const B_MAX_RHO = -0.5;
export const B_MAX_P = 0.05;
export const B_MIN_POINTS = 5;

export const RULE_B =
  `Over all runs of the learning-rate arms (every seed), ρ = Spearman's rank correlation between Tr(F_i) and ` +
  `final test accuracy (ties get average ranks), p = one-sided permutation p-value for ρ < 0. **Holds** if ` +
  `ρ ≤ ${B_MAX_RHO} and p ≤ ${B_MAX_P}; **does not hold** if ρ ≥ 0; **inconclusive** otherwise, or with fewer ` +
  `than ${B_MIN_POINTS} runs that have both numbers (a run whose loss never reached ε has no Tr(F_i)).`;

export function correlationB(t: TableB): { rho: number | null; p: number | null; n: number } {
  const pts = t.points.filter((p) => p.trFi !== null && p.testAcc !== null);
  const x = pts.map((p) => p.trFi as number);
  const y = pts.map((p) => p.testAcc as number);
  if (pts.length < 2) return { rho: null, p: null, n: pts.length };
  return {
    rho: spearman(x, y),
    p: spearmanPermutationP(x, y, { seed: 2012_14193 }),
    n: pts.length,
  };
}

export function verdictB(t: TableB): Verdict {
  const { rho, p, n } = correlationB(t);
  if (n < B_MIN_POINTS)
    return {
      verdict: 'inconclusive',
      reason: `only ${n} run(s) with both Tr(F_i) and test accuracy (need ${B_MIN_POINTS})`,
    };
  if (rho === null)
    return {
      verdict: 'inconclusive',
      reason: `ρ undefined over ${n} runs (one of the two is constant)`,
    };
  const desc = `ρ = ${rho.toFixed(2)}, p = ${(p as number).toFixed(3)} over ${n} runs`;
  if (rho <= B_MAX_RHO && (p as number) <= B_MAX_P) return { verdict: 'holds', reason: desc };
  if (rho >= 0) return { verdict: 'does not hold', reason: desc };
  return {
    verdict: 'inconclusive',
    reason: `${desc} (negative, but needs ρ ≤ ${B_MAX_RHO} and p ≤ ${B_MAX_P})`,
  };
}

// ---------------------------------------------------------------------------------------------------- (c)

export interface ArmC {
  key: string;
  label: string;
  /** Final test accuracy per seed, [0, 1]. */
  testAcc: (number | null)[];
  /** Early peak of Tr(F) (the detector's) per seed. */
  peak: (number | null)[];
}

export interface TableC {
  arms: ArmC[];
}

export const C_ACC_FLOOR = 0.003;
export const C_MIN_CLOSURE = 0.5;

export const RULE_C =
  `Compare the penalised η*/10 arm (the claim is about FP; GP, GPr and GPx are judged by the same rule as ` +
  `secondary lines) with plain η*/10. Δacc = difference of mean final test accuracy; its noise level ` +
  `τ = max(2·SE(Δacc), ${(C_ACC_FLOOR * 100).toFixed(1)} percentage points), SE from the seeds (the floor alone with one seed). ` +
  `Peak closure g = (peak(η*/10) − peak(penalised)) ÷ (peak(η*/10) − peak(η*)) on the mean peaks (1 = down to ` +
  `η* level). **Holds** if Δacc > τ and g ≥ ${C_MIN_CLOSURE}; **does not hold** if Δacc < −τ or g ≤ 0 (the ` +
  `penalty makes accuracy worse or does not lower the peak at all); **inconclusive** otherwise (including when ` +
  `η*/10 does not peak above η*, so there is no gap in Tr(F) to close).`;

const armOf = (t: TableC, key: string) => t.arms.find((a) => a.key === key);

export interface CompareC {
  dAcc: number | null;
  tau: number;
  closure: number | null;
  accClosure: number | null;
}

export function compareC(t: TableC, key: string): CompareC {
  const eta = armOf(t, 'eta');
  const base = armOf(t, 'small');
  const pen = armOf(t, key);
  const mb = base ? mean(base.testAcc) : null;
  const mp = pen ? mean(pen.testAcc) : null;
  const dAcc = mb !== null && mp !== null ? mp - mb : null;
  const sb = base ? se(base.testAcc) : null;
  const sp = pen ? se(pen.testAcc) : null;
  const seDiff = sb !== null && sp !== null ? Math.sqrt(sb * sb + sp * sp) : 0;
  const tau = Math.max(2 * seDiff, C_ACC_FLOOR);
  const pb = base ? mean(base.peak) : null;
  const pp = pen ? mean(pen.peak) : null;
  const pe = eta ? mean(eta.peak) : null;
  const closure =
    pb !== null && pp !== null && pe !== null && pb > pe ? (pb - pp) / (pb - pe) : null;
  const me = eta ? mean(eta.testAcc) : null;
  const accClosure =
    dAcc !== null && me !== null && mb !== null && me - mb > 0 ? dAcc / (me - mb) : null;
  return { dAcc, tau, closure, accClosure };
}

export function verdictC(t: TableC, key = 'fisher'): Verdict {
  const { dAcc, tau, closure } = compareC(t, key);
  if (dAcc === null)
    return { verdict: 'inconclusive', reason: `no completed runs to compare for ${key}` };
  const pp = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)} pp`;
  const desc = `Δacc ${pp(dAcc)} (τ ${(100 * tau).toFixed(2)} pp), peak closure g ${closure === null ? 'n/a' : closure.toFixed(2)}`;
  if (dAcc < -tau || (closure !== null && closure <= 0))
    return { verdict: 'does not hold', reason: desc };
  if (dAcc > tau && closure !== null && closure >= C_MIN_CLOSURE)
    return { verdict: 'holds', reason: desc };
  return { verdict: 'inconclusive', reason: desc };
}

// ---------------------------------------------------------------------------------------------------- (e)

export interface SideE {
  clean: (number | null)[];
  noisy: (number | null)[];
  test: (number | null)[];
}

export interface LevelE {
  noise: number;
  base: SideE;
  fp: SideE;
}

export interface TableE {
  levels: LevelE[];
}

export const E_MIN_MEMORISED = 0.2;
export const E_FLOOR = 0.02;
export const E_SELECTIVITY = 2;

export const RULE_E =
  `Per noise level, on the tracked training subsets: N = final accuracy on noisy examples w.r.t. their (wrong) ` +
  `given labels, i.e. how much was memorised; C = the same on clean examples. dN = N(baseline) − N(FP), ` +
  `dC = C(baseline) − C(FP), τ = max(2·SE(dN), ${E_FLOOR * 100} pp). A level **holds** if dN > τ and ` +
  `dN ≥ ${E_SELECTIVITY}·max(dC, 0) (FP removes far more memorisation than clean learning); it **does not hold** if ` +
  `dN ≤ max(dC, 0) (no selective effect); otherwise, or if the baseline memorised under ${E_MIN_MEMORISED * 100}% ` +
  `of the noisy labels (nothing to prevent at this training length), it is **inconclusive**. The claim holds if ` +
  `every level holds, does not hold if any level does not hold, else is inconclusive.`;

export function compareE(l: LevelE): {
  nBase: number | null;
  dN: number | null;
  dC: number | null;
  tau: number;
} {
  const nb = mean(l.base.noisy);
  const nf = mean(l.fp.noisy);
  const cb = mean(l.base.clean);
  const cf = mean(l.fp.clean);
  const dN = nb !== null && nf !== null ? nb - nf : null;
  const dC = cb !== null && cf !== null ? cb - cf : null;
  const s1 = se(l.base.noisy);
  const s2 = se(l.fp.noisy);
  const tau = Math.max(s1 !== null && s2 !== null ? 2 * Math.sqrt(s1 * s1 + s2 * s2) : 0, E_FLOOR);
  return { nBase: nb, dN, dC, tau };
}

export function verdictELevel(l: LevelE): Verdict {
  const { nBase, dN, dC, tau } = compareE(l);
  const pct = Math.round(l.noise * 100);
  if (nBase === null || dN === null || dC === null)
    return { verdict: 'inconclusive', reason: `${pct}% noise: runs missing` };
  const p = (v: number) => `${(100 * v).toFixed(1)}`;
  const desc = `${pct}% noise: noisy-subset accuracy ${p(nBase)}% → ${p(nBase - dN)}% (dN ${p(dN)} pp, τ ${p(tau)}), clean drop dC ${p(dC)} pp`;
  if (nBase < E_MIN_MEMORISED)
    return { verdict: 'inconclusive', reason: `${desc}; the baseline memorised little` };
  if (dN <= Math.max(dC, 0)) return { verdict: 'does not hold', reason: desc };
  if (dN > tau && dN >= E_SELECTIVITY * Math.max(dC, 0)) return { verdict: 'holds', reason: desc };
  return { verdict: 'inconclusive', reason: desc };
}

export function verdictE(t: TableE): Verdict {
  if (!t.levels.length) return { verdict: 'inconclusive', reason: 'no noise level' };
  const vs = t.levels.map(verdictELevel);
  const reason = vs.map((v) => v.reason).join('; ');
  if (vs.some((v) => v.verdict === 'does not hold')) return { verdict: 'does not hold', reason };
  if (vs.every((v) => v.verdict === 'holds')) return { verdict: 'holds', reason };
  return { verdict: 'inconclusive', reason };
}

// ---------------------------------------------------------------------------------------------- builders

const claim = (plan: Plan, id: string) => {
  const c = plan.claims.find((x) => x.claim === id);
  if (!c) throw new Error(`plan has no claim (${id})`);
  return c;
};

/** Early peak of a run: the trainer's detector's (the same number as the Runs tree and `summary.json`). */
export const runPeak = (results: Results, id: string): number | null => earlyPeakOf(results[id]);

export function buildTableA(plan: Plan, results: Results, id: 'a' | 'a-cnn' = 'a'): TableA {
  const c = claim(plan, id);
  const eta = c.arms.find((a) => a.key === 'eta')!;
  const small = c.arms.find((a) => a.key === 'small')!;
  return {
    rows: plan.setup.seeds.map((seed, i) => ({
      seed,
      etaRun: eta.runIds[i],
      smallRun: small.runIds[i],
      etaPeak: runPeak(results, eta.runIds[i]),
      smallPeak: runPeak(results, small.runIds[i]),
    })),
  };
}

export function buildTableB(plan: Plan, results: Results): TableB {
  const c = claim(plan, 'b');
  return {
    points: c.arms.flatMap((a) =>
      a.runIds.map((id, i) => ({
        runId: id,
        lr: a.lr,
        seed: plan.setup.seeds[i],
        trFi: trFi(results[id]),
        testAcc: finalTestAcc(results[id]),
        finalTrainLoss: finalTrainLoss(results[id]),
      })),
    ),
  };
}

export function buildTableC(plan: Plan, results: Results): TableC {
  const c = claim(plan, 'c');
  return {
    arms: c.arms.map((a) => ({
      key: a.key === 'eta' || a.key === 'small' ? a.key : a.penalty,
      label: a.label,
      testAcc: a.runIds.map((id) => finalTestAcc(results[id])),
      peak: a.runIds.map((id) => runPeak(results, id)),
    })),
  };
}

export function buildTableE(plan: Plan, results: Results): TableE {
  const c = claim(plan, 'e');
  const side = (ids: string[]): SideE => ({
    clean: ids.map((id) => finalCleanAcc(results[id])),
    noisy: ids.map((id) => finalNoisyAcc(results[id])),
    test: ids.map((id) => finalTestAcc(results[id])),
  });
  const levels: LevelE[] = [];
  for (const f of [...new Set(c.arms.map((a) => a.noise))]) {
    const base = c.arms.find((a) => a.noise === f && a.penalty === 'none');
    const fp = c.arms.find((a) => a.noise === f && a.penalty === 'fisher');
    if (base && fp) levels.push({ noise: f, base: side(base.runIds), fp: side(fp.runIds) });
  }
  return { levels };
}

/** A verdict with a note appended to its reason (how a search before the claim ended). */
const noted = (v: Verdict, note: string | null): Verdict =>
  note ? { ...v, reason: `${v.reason}; ${note}` } : v;

/** The note for a penalty whose α search found no helpful value. */
function alphaNote(plan: Plan, kind: string, noise: number): string | null {
  const a = plan.alphaSearches.find((x) => x.kind === kind && x.noise === noise);
  return a && !a.choice.found ? `α search found no helpful value (${a.choice.reason})` : null;
}

/** All four claims' tables and verdicts. */
export function analyze(plan: Plan, results: Results) {
  const a = buildTableA(plan, results);
  const aCnn = plan.claims.some((c) => c.claim === 'a-cnn')
    ? buildTableA(plan, results, 'a-cnn')
    : null;
  const b = buildTableB(plan, results);
  const c = buildTableC(plan, results);
  const e = buildTableE(plan, results);
  return {
    a: { table: a, verdict: verdictA(a) },
    aCnn: aCnn ? { table: aCnn, verdict: verdictA(aCnn) } : null,
    b: { table: b, verdict: verdictB(b), ...correlationB(b) },
    c: {
      table: c,
      verdict: noted(verdictC(c, 'fisher'), alphaNote(plan, 'fisher', 0)),
      secondary: c.arms
        .filter((x) => !['eta', 'small', 'fisher'].includes(x.key))
        .map((x) => ({
          key: x.key,
          verdict: noted(verdictC(c, x.key), alphaNote(plan, x.key, 0)),
        })),
    },
    e: {
      table: e,
      verdict: verdictE(e),
      levels: e.levels.map((l) => {
        const len = plan.noiseLengths.find((n) => n.noise === l.noise);
        return noted(
          noted(verdictELevel(l), len ? `length: ${len.endedBy} (${len.reason})` : null),
          alphaNote(plan, 'fisher', l.noise),
        );
      }),
    },
  };
}

export type Analysis = ReturnType<typeof analyze>;

/** Used by the report: finite values of a column. */
export { finite };
