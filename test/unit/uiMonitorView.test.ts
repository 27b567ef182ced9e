import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorBody } from '../../src/host/panels/monitorHtml';
import { MEMENTO_KEY, mementoViewSettings } from '../../src/host/panels/viewSettings';
import {
  axisTitles,
  METRICS,
  MONITOR_CHARTS,
  metricAxisTitle,
  metricById,
  xAxisTitle,
} from '../../src/shared/metrics';
import {
  validateFromMonitor,
  validateMonitorSettings,
  validateMonitorViewState,
} from '../../src/shared/webviewProtocol';

const chart = (id: string) => MONITOR_CHARTS.find((c) => c.id === id)!;

test('axis titles: every monitor chart has a y title per scale, with the unit of its lines', () => {
  for (const c of MONITOR_CHARTS) assert.ok(axisTitles(c).y, `${c.id} has a y axis title`);
  assert.equal(axisTitles(chart('loss')).y, 'loss (nats)');
  assert.equal(axisTitles(chart('acc')).y, 'accuracy (%)');
  assert.equal(axisTitles(chart('noise')).y, 'training accuracy (%)');
  assert.equal(axisTitles(chart('trF')).y, 'Tr(F)');
  assert.deepEqual(axisTitles(chart('lr')), { y: 'learning rate', pen: 'penalty α·P' });
  assert.equal(xAxisTitle('time'), 'time (s)');
  assert.equal(xAxisTitle('epoch'), 'epoch');
  assert.equal(metricAxisTitle(metricById('testAcc')!), 'accuracy (%)');
  assert.equal(metricAxisTitle(metricById('testLoss')!), 'loss (nats)');
  assert.equal(metricAxisTitle(metricById('trF')!), 'Tr(F)');
  // No raw subscript markup on a canvas axis.
  for (const m of METRICS) assert.doesNotMatch(metricAxisTitle(m), /_/, m.id);
});

test('view settings: kept per run in the memento, validated when read back, bounded', () => {
  const store = new Map<string, unknown>();
  const memento = {
    get: <T>(k: string) => store.get(k) as T | undefined,
    update: (k: string, v: unknown) => (store.set(k, v), Promise.resolve()),
  };
  const kept = mementoViewSettings(memento, 3);
  assert.equal(kept.get('run-a'), null);
  kept.set('run-a', { xAxis: 'epoch', smoothing: 0.9, logScale: true });
  kept.set('run-b', { xAxis: 'time', smoothing: 0, logScale: false });
  assert.deepEqual(kept.get('run-a'), { xAxis: 'epoch', smoothing: 0.9, logScale: true });
  assert.deepEqual(kept.get('run-b'), { xAxis: 'time', smoothing: 0, logScale: false });
  // A corrupt entry (another version, a hand edit) is ignored, not used.
  store.set(MEMENTO_KEY, { ...(store.get(MEMENTO_KEY) as object), 'run-c': { xAxis: 'weird' } });
  assert.equal(kept.get('run-c'), null);
  assert.equal(kept.get('__proto__'), null);
  store.set(MEMENTO_KEY, 'not an object');
  assert.equal(kept.get('run-a'), null);
  for (const id of ['r1', 'r2', 'r3', 'r4'])
    kept.set(id, { xAxis: 'step', smoothing: 0.6, logScale: false });
  assert.deepEqual(Object.keys(store.get(MEMENTO_KEY) as object), ['r2', 'r3', 'r4']);
});

test('view settings: the message and the restored values are validated', () => {
  const ok = validateFromMonitor({
    type: 'viewSettings',
    runId: 'run-a',
    settings: { xAxis: 'epoch', smoothing: 0.95, logScale: true },
  });
  assert.equal(ok.ok, true);
  for (const settings of [
    { xAxis: 'epoch', smoothing: 1, logScale: true },
    { xAxis: 'epoch', smoothing: -0.1, logScale: true },
    { xAxis: 'wall', smoothing: 0, logScale: true },
    { xAxis: 'step', smoothing: 0 },
  ]) {
    const v = validateFromMonitor({ type: 'viewSettings', runId: 'run-a', settings });
    assert.equal(v.ok, false, JSON.stringify(settings));
    assert.equal(validateMonitorSettings(settings), null);
  }
  assert.equal(validateMonitorViewState({ runId: 'a', smoothing: 2 }), null);
});

test('monitor page: the kept settings preset the controls and travel escaped', () => {
  const html = monitorBody('run "<a>"', { xAxis: 'epoch', smoothing: 0.9, logScale: true });
  assert.ok(html.includes('run &quot;&lt;a&gt;&quot;'));
  assert.match(html, /<vscode-option value="epoch" selected>/);
  assert.doesNotMatch(html, /<vscode-option value="step" selected>/);
  assert.match(html, /<vscode-checkbox id="log-scale" checked>/);
  const attr = /data-settings="([^"]*)"/.exec(html)![1];
  const json = attr
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
  assert.deepEqual(JSON.parse(json), { xAxis: 'epoch', smoothing: 0.9, logScale: true });
  for (const c of MONITOR_CHARTS) assert.ok(html.includes(`id="${c.dom}"`), c.dom);
  assert.doesNotMatch(monitorBody('r'), /data-settings/);
});
