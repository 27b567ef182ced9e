import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMPARE_METRICS, summaryRow, summaryTable } from '../../src/shared/compare';
import { seriesToCsv, seriesToScalars } from '../../src/shared/exportData';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import {
  fmt,
  fmtAxis,
  headlineTrF,
  pct,
  percentAxis,
  thousands,
  duration,
  eta,
} from '../../src/shared/format';
import {
  chartLines,
  compareMetrics,
  METRIC_TABLES,
  METRICS,
  MONITOR_CHARTS,
  summaryColumns,
  tableColumns,
  tableOf,
  type MetricSpec,
} from '../../src/shared/metrics';
import { EVENT_SCHEMAS } from '../../src/shared/protocol';
import { buildSeries, createSeries } from '../../src/shared/series';
import { RunSeriesSchema } from '../../src/shared/webviewProtocol';

const series = buildSeries('r', fakeRunEvents({ runId: 'r', steps: 200, noise: true }));

test('metrics: every catalogue metric is a field of its event schema, with unique ids, CSV columns and tags', () => {
  for (const m of METRICS) {
    const schema = EVENT_SCHEMAS[m.event] as unknown as { properties: Record<string, unknown> };
    assert.ok(
      m.field in schema.properties,
      `${m.id}: ${m.event}.${m.field} is in the event schema`,
    );
  }
  for (const key of ['id', 'csv', 'tag'] as const)
    assert.equal(new Set(METRICS.map((m) => m[key])).size, METRICS.length, `unique ${key}`);
});

test('metrics: every catalogue metric reaches the series, its validator, the CSV, TensorBoard and its charts', () => {
  const empty = createSeries('e');
  const header = seriesToCsv(series).split('\n')[0].split(',');
  const tags = new Set(seriesToScalars(series).map((p) => p.tag));
  const validatorTables = (
    RunSeriesSchema as unknown as {
      properties: Record<string, { properties: Record<string, unknown> }>;
    }
  ).properties;
  const chartIds = new Set(MONITOR_CHARTS.map((c) => c.id));
  for (const m of METRICS) {
    const table = tableOf(m);
    assert.ok(
      Array.isArray((empty[table] as unknown as Record<string, unknown>)[m.id]),
      `${m.id}: a column of series.${table}`,
    );
    assert.equal(
      (series[table] as unknown as Record<string, unknown[]>)[m.id].length,
      series[table].step.length,
      `${m.id}: one value per row`,
    );
    assert.ok(m.id in validatorTables[table].properties, `${m.id}: in the series validator`);
    assert.ok(header.includes(m.csv), `${m.id}: CSV column ${m.csv}`);
    if ((series[table] as unknown as Record<string, unknown[]>)[m.id].some((v) => v !== null))
      assert.ok(tags.has(m.tag), `${m.id}: TensorBoard tag ${m.tag}`);
    if ('monitor' in m) {
      assert.ok(
        chartIds.has(m.monitor.chart),
        `${m.id}: monitor chart ${m.monitor.chart} is in the chart table`,
      );
      assert.ok(
        chartLines(m.monitor.chart).some((x) => x.id === m.id),
        `${m.id}: drawn in its chart`,
      );
    }
    if ('compare' in m)
      assert.ok(
        COMPARE_METRICS.some((x) => x.id === m.id),
        `${m.id}: a compare metric`,
      );
  }
  assert.deepEqual(header.slice(0, 3), ['step', 'epoch', 'time_s']);
  assert.equal(header.length, 3 + METRICS.length);
  for (const c of MONITOR_CHARTS) assert.ok(chartLines(c.id).length > 0, `chart ${c.id} has lines`);
});

test('metrics: adding an entry is enough for the derived tables', () => {
  const extra: MetricSpec = {
    id: 'sharpness',
    event: 'fisher',
    field: 'trF',
    label: 'Sharpness',
    unit: '',
    format: 'number',
    smooth: true,
    csv: 'sharpness',
    tag: 'fisher/sharpness',
    summaryColumn: 'Sharpness',
    compare: { rank: 0 },
    monitor: { chart: 'trFB', rank: 1, legend: 'sharpness', color: 'red' },
  };
  const cat: MetricSpec[] = [...METRICS, extra];
  assert.deepEqual(tableColumns('fisher', cat), [...tableColumns('fisher'), 'sharpness']);
  assert.equal(compareMetrics(cat)[0].id, 'sharpness');
  assert.ok(summaryColumns(cat).some((m) => m.id === 'sharpness'));
  assert.deepEqual(
    chartLines('trFB', cat).map((m) => m.id),
    ['trFB', 'sharpness'],
  );
  assert.equal(tableOf(extra), METRIC_TABLES.fisher);
});

test('metrics: the compare view keeps its metrics, order and summary columns', () => {
  assert.deepEqual(
    COMPARE_METRICS.map((m) => m.id),
    [
      'trF',
      'trFB',
      'loss',
      'testLoss',
      'testAcc',
      'trainAcc',
      'cleanAcc',
      'noisyAcc',
      'lr',
      'penalty',
    ],
  );
  const t = summaryTable([summaryRow(series, null, 'running')]);
  assert.deepEqual(t.head, [
    'Run',
    'State',
    'LR',
    'Early peak Tr(F) @ step',
    'Tr(F_i) @ step',
    'Explosion @ step',
    'Final test acc.',
    'Final clean acc.',
    'Final noisy acc.',
    'Steps',
    'Engine',
  ]);
  assert.equal(t.rows[0].length, t.head.length);
  assert.match(t.rows[0][6], /^\d+\.\d%$/);
});

test('format: labels, axes, durations and the peak-else-max rule', () => {
  assert.equal(fmt(0.012345), '0.0123');
  assert.equal(fmt(1234567), '1.23e+6');
  assert.equal(fmt(null), '–');
  assert.equal(fmtAxis(123456), '1.23e+5');
  assert.equal(fmtAxis(12.3456), '12.35');
  assert.equal(pct(0.912), '91.2%');
  assert.equal(pct(91.2), '91.2%');
  assert.equal(percentAxis(0.5), '50%');
  assert.equal(thousands(1234567), '1,234,567');
  assert.equal(duration(42.5), '42.5s');
  assert.equal(duration(125), '2m5s');
  assert.equal(eta(3725), '1h02m');
  const base = { peakTrF: 5, peakStep: 10, maxTrF: 9, maxTrFStep: 50 };
  assert.deepEqual(headlineTrF({ ...base, peakConfirmed: true }), {
    value: 5,
    step: 10,
    kind: 'peak',
  });
  assert.deepEqual(headlineTrF({ ...base, peakConfirmed: false }), {
    value: 9,
    step: 50,
    kind: 'max',
  });
  assert.deepEqual(
    headlineTrF({ ...base, peakConfirmed: false }, { value: 4, step: 3, kind: 'peak' }),
    { value: 4, step: 3, kind: 'peak' },
  );
  assert.equal(headlineTrF(null), null);
});
