/** The panels' request/reply helper: replies settle their own request only; timeouts and disposal fail the rest. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PendingRequests } from '../../src/host/panels/requestReply';

type Png = { requestId: number; data: string };

test('request/reply: each request gets a fresh id and is settled by the reply naming it', async () => {
  const r = new PendingRequests<Png>();
  const sent: number[] = [];
  const a = r.request((id) => sent.push(id), 'the view', 1000);
  const b = r.request((id) => sent.push(id), 'the view', 1000);
  assert.equal(new Set(sent).size, 2);
  assert.equal(r.reply({ requestId: 999, data: 'stray' }), false, 'a reply nobody waits for');
  assert.equal(r.reply({ requestId: sent[1], data: 'b' }), true);
  assert.equal(r.reply({ requestId: sent[0], data: 'a' }), true);
  assert.equal(r.reply({ requestId: sent[0], data: 'again' }), false, 'a request is settled once');
  assert.deepEqual(
    [await a, await b].map((x) => x.data),
    ['a', 'b'],
  );
});

test('request/reply: no answer in time rejects naming the view; disposal fails what is outstanding', async () => {
  const r = new PendingRequests<Png>();
  await assert.rejects(
    r.request(() => undefined, 'the monitor', 10),
    /^Error: no answer from the monitor$/,
  );
  const p = r.request(() => undefined, 'the monitor', 10_000);
  r.dispose();
  await assert.rejects(p, /the panel was closed/);
});
