import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeRunEvents } from '../../src/shared/fakeRunEvents';
import { buildSeries } from '../../src/shared/series';
import {
  isRunEvent,
  validateCompareViewState,
  validateFromCompare,
  validateFromMonitor,
  validateMonitorViewState,
  validateToCompare,
  validateToMonitor,
} from '../../src/shared/webviewProtocol';

const events = fakeRunEvents({ runId: 'r', steps: 120, noise: true });
const series = JSON.parse(JSON.stringify(buildSeries('r', events)));

test('webview protocol: valid messages pass both directions', () => {
  const ok = (r: { ok: boolean; error?: string }) =>
    assert.ok(r.ok, (r as { error?: string }).error);
  ok(
    validateToMonitor({
      type: 'snapshot',
      runId: 'r',
      series,
      config: { seed: 0 },
      state: 'running',
      summary: null,
    }),
  );
  ok(validateToMonitor({ type: 'events', runId: 'r', events: JSON.parse(JSON.stringify(events)) }));
  ok(
    validateToMonitor({
      type: 'state',
      runId: 'r',
      state: 'completed',
      message: null,
      summary: { runId: 'r', state: 'completed', steps: 3 },
    }),
  );
  ok(validateToMonitor({ type: 'exportPng', requestId: 4 }));
  ok(validateFromMonitor({ type: 'ready' }));
  ok(validateFromMonitor({ type: 'stop', runId: 'r' }));
  ok(
    validateFromMonitor({
      type: 'png',
      requestId: 4,
      dataUrl: 'data:image/png;base64,AAAA',
      error: null,
    }),
  );
  ok(validateFromMonitor({ type: 'log', level: 'warn', message: 'x' }));
  ok(
    validateToCompare({
      type: 'compareSnapshot',
      runs: [{ runId: 'r', series, config: null, state: null, summary: null }],
    }),
  );
  ok(validateFromCompare({ type: 'openMonitor', runId: 'r' }));
  for (const e of events) assert.ok(isRunEvent(JSON.parse(JSON.stringify(e))), e.type);
});

test('webview protocol: malformed messages are rejected with a reason', () => {
  const bad: [string, (v: unknown) => { ok: boolean }, unknown][] = [
    ['null', validateToMonitor, null],
    ['string', validateToMonitor, 'snapshot'],
    ['array', validateFromMonitor, [{ type: 'ready' }]],
    ['unknown type', validateFromMonitor, { type: 'eval', code: 'alert(1)' }],
    ['to-host type sent to webview', validateToMonitor, { type: 'stop', runId: 'r' }],
    ['monitor message to compare host', validateFromCompare, { type: 'stop', runId: 'r' }],
    ['path in run id', validateFromMonitor, { type: 'stop', runId: '../../etc' }],
    ['empty run id', validateFromMonitor, { type: 'stop', runId: '' }],
    ['run id not a string', validateFromMonitor, { type: 'stop', runId: 5 }],
    [
      'png not png',
      validateFromMonitor,
      { type: 'png', requestId: 1, dataUrl: 'data:text/html;base64,AAAA', error: null },
    ],
    [
      'png request id',
      validateFromMonitor,
      { type: 'png', requestId: 'x', dataUrl: null, error: null },
    ],
    ['log level', validateFromMonitor, { type: 'log', level: 'debug', message: 'x' }],
    [
      'series missing',
      validateToMonitor,
      { type: 'snapshot', runId: 'r', config: null, state: null, summary: null },
    ],
    [
      'series column length',
      validateToMonitor,
      {
        type: 'snapshot',
        runId: 'r',
        series: { ...series, fisher: { ...series.fisher, trF: [1] } },
        config: null,
        state: null,
        summary: null,
      },
    ],
    [
      'series value type',
      validateToMonitor,
      {
        type: 'snapshot',
        runId: 'r',
        series: { ...series, steps: { ...series.steps, loss: series.steps.loss.map(() => '1') } },
        config: null,
        state: null,
        summary: null,
      },
    ],
    [
      'bad state',
      validateToMonitor,
      { type: 'state', runId: 'r', state: 'exploded', message: null, summary: null },
    ],
    [
      'event with unknown type',
      validateToMonitor,
      { type: 'events', runId: 'r', events: [{ type: 'boom', t: 1 }] },
    ],
    [
      'event missing field',
      validateToMonitor,
      { type: 'events', runId: 'r', events: [{ type: 'fisher', t: 1, step: 1, epoch: 0 }] },
    ],
    ['event not an array', validateToCompare, { type: 'events', runId: 'r', events: {} }],
    ['compare runs', validateToCompare, { type: 'compareSnapshot', runs: [{ runId: 'r' }] }],
  ];
  for (const [name, v, msg] of bad) {
    const r = v(msg) as { ok: boolean; error?: string };
    assert.equal(r.ok, false, name);
    assert.ok(r.error && r.error.length > 0, name);
  }
  assert.equal(isRunEvent({ type: 'step', t: 1, step: 1.5, epoch: 0, loss: 1, lr: 1 }), false);
  assert.equal(isRunEvent({ type: 'constructor' }), false);
  assert.equal(isRunEvent({ type: 'toString' }), false);
});

test('webview protocol: view state restore is validated', () => {
  assert.deepEqual(validateMonitorViewState({ runId: 'a', xAxis: 'epoch' }), {
    runId: 'a',
    xAxis: 'epoch',
  });
  assert.equal(validateMonitorViewState({ runId: 'a', xAxis: 'weird' }), null);
  assert.equal(validateMonitorViewState(undefined), null);
  assert.deepEqual(validateCompareViewState({ runIds: ['a', 'b'] }), { runIds: ['a', 'b'] });
  assert.equal(validateCompareViewState({ runIds: ['../x'] }), null);
});
