import t from 'tap';
import pg from 'pg';
import { PgShiftStore } from '../../src/store/pg-store.js';
import { PgSessionStore } from '../../src/store/pg-sessions.js';
import { openSession } from '../../src/api/sessions.js';
import { createStatePool } from '../../src/store/state-db.js';
import { startScratchServer } from '../clusters/helpers.js';
import { testLogger } from '../helpers/lab.js';
import { connectionUrl } from '../../src/postgres/connect.js';

t.test('the PostgreSQL state store', async (t) => {
  const scratch = await startScratchServer(t, 14);
  const url = connectionUrl(scratch.admin());
  const stores = [0, 1, 2].map(() => new PgShiftStore(createStatePool(url, testLogger())));
  t.teardown(() => Promise.all(stores.map((s) => s.close())));
  const store = stores[0]!;

  await t.test('migrates exactly once when several processes start together', async (t) => {
    const applied = await Promise.all(stores.map((s) => s.migrate()));
    t.same(applied.flat(), [1, 2, 3, 4, 5]);
    t.same(await store.migrate(), [], 'nothing left to do');
  });

  await t.test('creates a pair once, at the stage it is given', async (t) => {
    const first = await store.ensurePair('orders', 'baseline', 1_000);
    const again = await store.ensurePair('orders', 'unprepared', 9_000);
    t.match(first, { id: 'orders', stage: 'baseline', paused: false, halted: false, version: 1, stageEnteredAt: 1_000, transition: null });
    t.same(again, first);
  });

  await t.test('updates only the version it read, with its event in the same transaction', async (t) => {
    const pair = (await store.getPair('orders'))!;
    const event = { pair: 'orders', actor: 'alice', action: 'advance', fromStage: 'baseline', toStage: 'reads-10', outcome: 'ok' as const, reason: null, details: { changeId: '/change/C1' } };
    const moved = await store.updatePair('orders', pair.version, { stage: 'reads-10', stageEnteredAt: 2_000 }, 2_000, event);
    t.equal(moved.version, pair.version + 1);
    t.equal(moved.stage, 'reads-10');
    await t.rejects(store.updatePair('orders', pair.version, { stage: 'reads-25' }, 3_000, { ...event, action: 'stale' }), {
      code: 'PGSHIFT_ERR_STATE_CONFLICT',
      status: 409,
    });
    const { events } = await store.listEvents('orders', { limit: 10 });
    t.same(events.map((e) => e.action), ['advance'], 'the stale writer left no event');
    t.equal((await store.getPair('orders'))!.stage, 'reads-10');
  });

  await t.test('keeps a journaled transition as written', async (t) => {
    const pair = (await store.getPair('orders'))!;
    const transition = {
      id: 't1', kind: 'advance' as const, from: 'reads-10', to: 'reads-25',
      weights: { reader: { blue: 75, green: 25 }, writer: { blue: 100, green: 0 } },
      startedAt: 5_000, actor: 'alice', reason: null, intentId: null, changeId: '/change/C2', submittedAt: 5_001,
    };
    const saved = await store.updatePair('orders', pair.version, { transition }, 5_000);
    t.same(saved.transition, transition);
    t.same((await store.getPair('orders'))!.transition, transition);
  });

  await t.test('records intents and finishes each once', async (t) => {
    const intent = await store.createIntent({ pair: 'orders', action: 'pause', expectedStage: null, reason: 'lunch', actor: 'alice', options: null }, 6_000);
    t.same((await store.pendingIntents('orders')).map((i) => i.id), [intent.id]);
    await store.finishIntent(intent.id, 'done', { stage: 'reads-10' }, 6_100);
    await store.finishIntent(intent.id, 'failed', { late: true }, 6_200);
    t.match(await store.getIntent(intent.id), { status: 'done', result: { stage: 'reads-10' }, finishedAt: 6_100 });
    t.same(await store.pendingIntents('orders'), []);
    t.equal(await store.getIntent('00000000-0000-0000-0000-000000000000'), null);
  });

  await t.test('pages the audit log newest first and streams it oldest first', async (t) => {
    for (let i = 0; i < 7; i++) {
      await store.recordEvent({ pair: 'orders', actor: 'x', action: `a${i}`, fromStage: null, toStage: null, outcome: 'info', reason: null, details: null }, 7_000 + i);
    }
    const first = await store.listEvents('orders', { limit: 3 });
    t.same(first.events.map((e) => e.action), ['a6', 'a5', 'a4']);
    const second = await store.listEvents('orders', { limit: 3, before: first.nextBefore! });
    t.same(second.events.map((e) => e.action), ['a3', 'a2', 'a1']);
    const all = await store.listEvents('orders', { limit: 500 });
    t.equal(all.nextBefore, null);
    const after = await store.eventsAfter('orders', second.events[0]!.id, 10);
    t.same(after.map((e) => e.action), ['a4', 'a5', 'a6']);
  });

  await t.test('keeps the last preflight report and the leader', async (t) => {
    t.equal(await store.lastPreflightReport('orders'), null);
    await store.savePreflightReport('orders', { ok: false, findings: [1] }, 8_000);
    await store.savePreflightReport('orders', { ok: true, findings: [] }, 8_100);
    t.same(await store.lastPreflightReport('orders'), { ok: true, findings: [] });
    await store.recordLeader('host-1', 9_000, 9_500);
    t.same(await store.leader(), { holder: 'host-1', since: 9_000, seenAt: 9_500 });
  });

  await t.test('refuses state that does not match its schema rather than acting on it', async (t) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`UPDATE pgshift.pairs SET stage = 'reads-1000' WHERE id = 'orders'`);
    await client.end();
    await t.rejects(store.getPair('orders'), { code: 'PGSHIFT_ERR_STATE_CORRUPT' });
  });

  await t.test('keeps dashboard sessions until they expire or end, and purges expired ones', async (t) => {
    const pool = createStatePool(url, testLogger());
    t.teardown(() => pool.end());
    const sessions = new PgSessionStore(pool);
    const now = 1_800_000_000_000;
    const alice = openSession('alice', 'operator', 'a'.repeat(64), now, 3600);
    const victor = openSession('victor', 'viewer', 'b'.repeat(64), now - 7_200_000, 3600);
    await sessions.create(victor.session);
    await sessions.create(alice.session);
    t.same(await sessions.find(alice.session.idHash, now + 1000), alice.session, 'read back as stored');
    t.equal(await sessions.find(alice.session.idHash, now + 3_600_000), null, 'expired at its expiry');
    t.equal(await sessions.find('f'.repeat(64), now), null, 'an unknown id is no session');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const ids = (await client.query('SELECT id_hash FROM pgshift.sessions')).rows.map((r) => r.id_hash);
    await client.end();
    t.same(ids, [alice.session.idHash], "creating alice's session purged victor's expired one");
    t.notOk(ids.includes(alice.cookie), 'only the hash of the cookie is stored');
    await sessions.remove(alice.session.idHash);
    await sessions.remove(alice.session.idHash);
    t.equal(await sessions.find(alice.session.idHash, now), null, 'signed out, twice without error');
  });
});
