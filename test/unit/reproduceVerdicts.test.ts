/** The reproduction's verdict rules on synthetic result tables: each claim can hold, fail, or be inconclusive. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  verdictA,
  verdictB,
  verdictC,
  verdictE,
  verdictELevel,
  type TableB,
  type TableC,
  type LevelE,
} from '../../src/reproduce/verdicts';

const rowA = (seed: number, etaPeak: number | null, smallPeak: number | null) => ({
  seed,
  etaPeak,
  smallPeak,
  etaRun: `e${seed}`,
  smallRun: `s${seed}`,
});

test('(a) holds when the small LR peaks ≥ 1.5× higher in every seed', () => {
  assert.equal(
    verdictA({ rows: [rowA(0, 10, 25), rowA(1, 12, 30), rowA(2, 9, 20)] }).verdict,
    'holds',
  );
});

test('(a) does not hold when the small LR peaks lower', () => {
  const v = verdictA({ rows: [rowA(0, 20, 15), rowA(1, 18, 17)] });
  assert.equal(v.verdict, 'does not hold');
  assert.match(v.reason, /0\.75/);
});

test('(a) is inconclusive for a modest ratio, one dissenting seed, or missing runs', () => {
  assert.equal(verdictA({ rows: [rowA(0, 10, 12), rowA(1, 10, 13)] }).verdict, 'inconclusive');
  assert.equal(
    verdictA({ rows: [rowA(0, 10, 40), rowA(1, 10, 9)] }).verdict,
    'inconclusive',
    'geomean 1.9 but one seed < 1',
  );
  assert.equal(verdictA({ rows: [rowA(0, null, 40)] }).verdict, 'inconclusive');
});

const tableB = (pairs: [number | null, number | null][]): TableB => ({
  points: pairs.map(([trFi, testAcc], i) => ({
    runId: `r${i}`,
    lr: i,
    seed: 0,
    trFi,
    testAcc,
    finalTrainLoss: null,
  })),
});

test('(b) holds for a strong, significant negative rank correlation', () => {
  const v = verdictB(
    tableB([
      [10, 0.95],
      [20, 0.94],
      [30, 0.93],
      [40, 0.92],
      [50, 0.91],
      [60, 0.9],
    ]),
  );
  assert.equal(v.verdict, 'holds');
  assert.match(v.reason, /ρ = -1\.00/);
});

test('(b) does not hold for a positive correlation', () => {
  assert.equal(
    verdictB(
      tableB([
        [10, 0.9],
        [20, 0.91],
        [30, 0.93],
        [40, 0.92],
        [50, 0.95],
      ]),
    ).verdict,
    'does not hold',
  );
});

test('(b) is inconclusive for a weak correlation or too few points', () => {
  // ρ = −0.3: negative but weak.
  assert.equal(
    verdictB(
      tableB([
        [1, 0.92],
        [2, 0.95],
        [3, 0.91],
        [4, 0.94],
        [5, 0.93],
        [6, 0.9],
      ]),
    ).verdict,
    'inconclusive',
  );
  // Runs without Tr(F_i) (loss never reached ε) do not count.
  assert.equal(
    verdictB(
      tableB([
        [10, 0.95],
        [20, 0.94],
        [30, 0.93],
        [null, 0.92],
        [null, 0.91],
      ]),
    ).verdict,
    'inconclusive',
  );
});

const tableC = (fpAcc: number[], fpPeak: number[]): TableC => ({
  arms: [
    { key: 'eta', label: 'η*', testAcc: [0.9, 0.91, 0.9], peak: [10, 11, 10] },
    { key: 'small', label: 'η*/10', testAcc: [0.87, 0.875, 0.872], peak: [30, 31, 29] },
    { key: 'fisher', label: 'FP', testAcc: fpAcc, peak: fpPeak },
  ],
});

test('(c) holds when FP raises accuracy beyond noise and cuts the peak most of the way to η*', () => {
  assert.equal(verdictC(tableC([0.895, 0.9, 0.893], [12, 13, 12])).verdict, 'holds');
});

test('(c) does not hold when FP lowers accuracy or leaves the peak where it was', () => {
  assert.equal(verdictC(tableC([0.85, 0.852, 0.851], [12, 13, 12])).verdict, 'does not hold');
  assert.equal(verdictC(tableC([0.895, 0.9, 0.893], [31, 32, 33])).verdict, 'does not hold');
});

test('(c) is inconclusive for an accuracy gain within noise', () => {
  const v = verdictC(tableC([0.873, 0.874, 0.872], [12, 13, 12]));
  assert.equal(v.verdict, 'inconclusive');
  // No penalty runs at all.
  assert.equal(verdictC(tableC([], []), 'gp').verdict, 'inconclusive');
});

const level = (noise: number, base: [number, number], fp: [number, number]): LevelE => ({
  noise,
  base: { clean: [base[0], base[0]], noisy: [base[1], base[1] + 0.01], test: [0.8, 0.8] },
  fp: { clean: [fp[0], fp[0]], noisy: [fp[1], fp[1] + 0.01], test: [0.85, 0.85] },
});

test('(e) holds when FP removes far more noisy-label memorisation than clean learning', () => {
  assert.equal(
    verdictE({
      levels: [level(0.25, [0.99, 0.95], [0.9, 0.1]), level(0.5, [0.98, 0.9], [0.85, 0.2])],
    }).verdict,
    'holds',
  );
});

test('(e) does not hold when FP hurts clean and noisy alike (any level failing fails the claim)', () => {
  const v = verdictE({
    levels: [level(0.25, [0.99, 0.95], [0.9, 0.1]), level(0.5, [0.98, 0.9], [0.7, 0.65])],
  });
  assert.equal(v.verdict, 'does not hold');
});

test('(e) is inconclusive when the baseline did not memorise, or the effect is not selective enough', () => {
  assert.equal(verdictELevel(level(0.25, [0.9, 0.1], [0.85, 0.05])).verdict, 'inconclusive');
  assert.equal(
    verdictELevel(level(0.25, [0.99, 0.8], [0.84, 0.55])).verdict,
    'inconclusive',
    'dN 25 pp vs dC 15 pp: < 2×',
  );
  assert.equal(
    verdictE({
      levels: [level(0.25, [0.99, 0.95], [0.9, 0.1]), level(0.5, [0.9, 0.1], [0.85, 0.05])],
    }).verdict,
    'inconclusive',
  );
});
