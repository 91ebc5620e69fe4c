import t, { type Test } from 'tap';
import pg from 'pg';
import * as D from '../../src/defaults.js';
import { clientConfig, withClient } from '../../src/postgres/connect.js';
import { startTestLab } from '../helpers/lab.js';
import { guardsHold } from '../helpers/cutover.js';
import { calm, haltedByAutoRevert, labApi, labServiceConfig, operatorHeaders, startLabService, standInWeights, type LabApi as Api } from '../helpers/lab-service.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The controller and the API over the real parts, on the lab: pgshift's own wiring
 * (main.ts) with Route 53 and RDS stand-ins and PostgreSQL 13 -> 14 replication.
 */

const readSplit = (percent: number) => ({ blue: 100 - percent, green: percent });
const ALL_BLUE = { reader: readSplit(0), writer: readSplit(0) };

async function advanceTo(t: Test, client: Api, from: string, to: string): Promise<void> {
  const res = await client.post('/api/v1/pairs/demo/advance', { expectedStage: from, reason: `test: to ${to}` });
  t.equal(res.status, 200, `advance ${from} -> ${to}: ${JSON.stringify(res.body.error ?? '')}`);
  t.equal(res.body.pair.stage, to);
}

async function resume(t: Test, client: Api): Promise<void> {
  const res = await client.post('/api/v1/pairs/demo/resume', { reason: 'test: cause removed' });
  t.equal(res.status, 200, 'resume clears the halt');
  t.equal(res.body.pair.halted, false);
}

interface Frame {
  id: number | null;
  event: string;
  data: any;
}

/** Reads server-sent events from `path` until the returned stop() is called. */
async function openStream(url: string, path: string, headers: Record<string, string>) {
  const abort = new AbortController();
  const res = await fetch(`${url}${path}`, { headers, signal: abort.signal });
  const frames: Frame[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
          const event = field('event');
          if (event) frames.push({ id: field('id') ? Number(field('id')) : null, event, data: JSON.parse(field('data') ?? 'null') });
        }
      }
    } catch {
      // aborted by stop()
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    frames,
    async stop() {
      abort.abort();
      await reading;
    },
  };
}

t.test('the shift controller on the lab', async (t) => {
  const lab = await startTestLab(t);
  const config = await labServiceConfig(t, {
    bakeSeconds: 0,
    signals: { sampleSeconds: 1, consecutiveBreaches: 2, lag: { maxSeconds: 3, maxBytes: 64 * 1024 * 1024 } },
  });
  const service = await startLabService(t, lab, config);
  const client = labApi(service.url, lab);

  t.same(standInWeights(lab), ALL_BLUE, 'the stand-in starts all on blue');
  await calm(client);

  await t.test('an operator walks the reads from baseline to reads-100; the records follow each step', async (t) => {
    // prepare ran preflight (phase prepare) before it set anything up: that report counts.
    const pair = await client.get('/api/v1/pairs/demo');
    t.match(pair.body.guards.find((g: { name: string }) => g.name === 'preflight'), { ok: true });
    t.match(pair.body.lastTransition, { kind: 'prepare', outcome: 'finished' });
    const preflight = await client.post('/api/v1/pairs/demo/preflight');
    t.equal(preflight.status, 200);
    t.equal(preflight.body.ok, true, 'the prepared pair has no blocker either');

    let stage = 'baseline';
    for (const percent of [10, 25, 50, 100]) {
      const next = `reads-${percent}`;
      await advanceTo(t, client, stage, next);
      t.same(standInWeights(lab), { reader: readSplit(percent), writer: readSplit(0) }, `Route 53 holds ${next}'s weights`);
      stage = next;
    }
    // The next advance would be the write cutover (its own lab tests run it); here the guard only says so.
    const beyond = await client.get('/api/v1/pairs/demo');
    t.match(beyond.body.guards.find((g: { name: string }) => g.name === 'next-stage'), { ok: true, detail: /next stage: green, by the write cutover/ });

    const revert = await client.post('/api/v1/pairs/demo/revert', { reason: 'test: back to the start' });
    t.equal(revert.status, 200);
    t.equal(revert.body.pair.stage, 'baseline');
    t.same(standInWeights(lab), ALL_BLUE, 'an operator revert sends every read back to blue');
  });

  await t.test("stopping green's server at reads-50 reverts reads to blue on its own and halts the pair", async (t) => {
    await advanceTo(t, client, 'baseline', 'reads-10');
    await advanceTo(t, client, 'reads-10', 'reads-25');
    await advanceTo(t, client, 'reads-25', 'reads-50');

    await lab.servers.green.stop();
    let greenUp = false;
    t.teardown(async () => {
      if (!greenUp) await lab.servers.green.start();
    });
    const { pair, event } = await haltedByAutoRevert(client);
    t.same(standInWeights(lab), ALL_BLUE, 'Route 53 sends every read to blue');
    t.match(pair.haltReason, /green|127\.0\.0\.1|ECONNREFUSED|terminat/i, `the halt says why: ${pair.haltReason}`);
    t.ok(event, 'the audit log has the auto-revert');
    t.equal(event.fromStage, 'reads-50');
    t.equal(event.toStage, 'baseline');
    t.match(event.reason, /probe\.error_rate:green|replication/);
    t.type(event.details.breachToSubmitMs, 'number', 'the time from the breaching sample to the change is recorded');

    const refused = await client.post('/api/v1/pairs/demo/advance', { expectedStage: 'baseline' });
    t.equal(refused.status, 409, 'advance is refused while halted');
    t.match(refused.body.error.details.guards, [{ name: 'not-halted', ok: false }]);
    t.same(standInWeights(lab), ALL_BLUE);

    await lab.servers.green.start();
    greenUp = true;
    await resume(t, client);
    // The clusters guard reads RDS on its own schedule (CLUSTERS_CHECK_MS): green is back once it says so, not when its signals are.
    await guardsHold(client);
    await advanceTo(t, client, 'baseline', 'reads-10');
    await client.post('/api/v1/pairs/demo/revert', { reason: 'test: reset' });
    t.same(standInWeights(lab), ALL_BLUE);
  });

  await t.test('replication lag past its limit reverts and halts (apply blocked by a lock on green)', async (t) => {
    await calm(client);
    await advanceTo(t, client, 'baseline', 'reads-10');

    // Green's apply worker waits on this lock, so blue's writes pile up unapplied while
    // the subscription stays enabled: lag is the only thing wrong.
    const locker = new pg.Client(clientConfig(lab.target('green', 'admin')));
    await locker.connect();
    t.teardown(() => locker.end().catch(() => undefined));
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE customers IN ACCESS EXCLUSIVE MODE');
    const writing = (async () => {
      for (let i = 0; i < 40; i++) {
        const view = await withClient(lab.target('blue', 'admin'), async (c) => {
          await c.query(`INSERT INTO customers (name, email) SELECT 'lag', 'lag-${i}-' || g || '@example.com' FROM generate_series(1, 200) g`);
          return null;
        });
        if (view !== null) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    })();

    const { pair, event } = await haltedByAutoRevert(client);
    t.same(standInWeights(lab), ALL_BLUE, 'reads are back on blue');
    t.match(pair.haltReason, /lag/, `the halt names the lag: ${pair.haltReason}`);
    t.match(event.reason, /replication\.lag_seconds/);
    t.notMatch(event.reason, /problems/, 'replication itself was healthy');

    // An application session still on green after the revert, as a pool keeps it until
    // its DNS answer expires.
    const app = new pg.Client(clientConfig({ ...lab.target('green', 'app'), applicationName: 'demo-shop' }));
    await app.connect();
    app.on('error', () => undefined);
    t.teardown(() => app.end().catch(() => undefined));
    await app.query('SELECT 1');
    await locker.query('ROLLBACK');
    await writing;

    const drain = await waitFor(
      "the drain of green's application sessions one TTL after the revert",
      async () => ((await client.get('/api/v1/pairs/demo/events?limit=20')).body.events as any[]).find((e) => e.action === 'drain' && e.id > event.id),
      20_000,
      200,
    );
    t.match(drain, { outcome: 'ok', details: { side: 'green' } });
    t.ok(drain.details.ended >= 1, `ended ${drain.details.ended} session(s)`);
    t.ok(drain.at - event.at >= 5_000 - 100, 'not before one TTL (5 s) after the revert');
    await t.rejects(app.query('SELECT 1'), 'the application session on green was ended');
    await resume(t, client);
  });

  await t.test('a disabled subscription is broken replication: an immediate revert', async (t) => {
    await calm(client);
    await advanceTo(t, client, 'baseline', 'reads-10');
    await advanceTo(t, client, 'reads-10', 'reads-25');
    const green = lab.target('green', 'admin');
    await withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} DISABLE`));
    t.teardown(() => withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ENABLE`)));
    await withClient(lab.target('blue', 'admin'), (c) =>
      c.query(`INSERT INTO customers (name, email) SELECT 'off', 'off-' || g || '@example.com' FROM generate_series(1, 1000) g`),
    );
    const { event } = await haltedByAutoRevert(client);
    t.same(standInWeights(lab), ALL_BLUE);
    t.match(event.reason, /replication\.problems/);
    t.match(event.fromStage, 'reads-25');
    await withClient(green, (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ENABLE`));
    await resume(t, client);
    await calm(client);
  });

  await t.test('records someone else edits pause the pair; pgshift does not overwrite them', async (t) => {
    await advanceTo(t, client, 'baseline', 'reads-10');
    const route53 = lab.route53!;
    const reader = route53.standIn.store.recordSets(route53.zoneId).filter((r) => r.name.startsWith('reader.demo.'));
    await route53.standIn.store.changeRecordSets(route53.zoneId, {
      comment: 'a colleague, by hand',
      changes: reader.map((r) => ({ action: 'UPSERT' as const, recordSet: { ...r, weight: r.setIdentifier === 'green' ? 30 : 70 } })),
    });
    const paused = await waitFor(
      'the pair to pause on the drift',
      async () => {
        const view = (await client.get('/api/v1/pairs/demo')).body;
        return view.paused ? view : undefined;
      },
      20_000,
      100,
    );
    t.equal(paused.stage, 'reads-10', 'the stage stays');
    t.same(paused.observed.reader, { blue: 70, green: 30 }, 'the API shows what Route 53 holds');
    const events = (await client.get('/api/v1/pairs/demo/events?limit=10')).body.events as any[];
    t.match(events.find((e) => e.action === 'drift-paused'), { reason: /reader/ });
    await waitFor(
      'pgshift to read the records again after pausing',
      async () => (await client.get('/api/v1/pairs/demo')).body.observed.at > paused.observed.at,
      30_000,
      200,
    );
    t.same(standInWeights(lab).reader, { blue: 70, green: 30 }, 'the edit is left alone');
    const refused = await client.post('/api/v1/pairs/demo/advance', { expectedStage: 'reads-10' });
    t.equal(refused.status, 409, 'no advance over records that differ from the stage');

    const revert = await client.post('/api/v1/pairs/demo/revert', { reason: 'test: back from the drift' });
    t.equal(revert.status, 200, 'an operator revert puts the records back to blue');
    t.same(standInWeights(lab), ALL_BLUE);
    await resume(t, client);
  });

  await t.test('the stream carries audit events, stage changes and samples; Last-Event-ID resumes', async (t) => {
    await calm(client);
    const headers = operatorHeaders(lab);
    const stream = await openStream(service.url, '/api/v1/pairs/demo/stream', headers);
    t.equal(stream.status, 200);
    t.match(stream.contentType, /^text\/event-stream/);
    await advanceTo(t, client, 'baseline', 'reads-10');
    await waitFor('the advance on the stream', () =>
      stream.frames.some((f) => f.event === 'event' && f.data.action === 'advance' && f.data.outcome === 'ok'),
    );
    await waitFor('a sample on the stream', () => stream.frames.some((f) => f.event === 'signals'));
    await stream.stop();
    t.equal(stream.frames[0]!.event, 'hello');
    t.match(stream.frames.find((f) => f.event === 'stage')?.data, { pair: 'demo', from: 'baseline', to: 'reads-10', kind: 'advance' });
    const events = stream.frames.filter((f) => f.event === 'event');
    t.ok(events.every((f, i) => f.id === f.data.id && (i === 0 || f.id! > events[i - 1]!.id!)), 'audit events in order, with their ids');
    t.match(stream.frames.find((f) => f.event === 'signals')?.data, { signals: Array, replication: { direction: 'blue->green' } });

    const resumeFrom = events[0]!.id!;
    const again = await openStream(service.url, '/api/v1/pairs/demo/stream', { ...headers, 'last-event-id': String(resumeFrom) });
    await waitFor('the missed events', () => again.frames.filter((f) => f.event === 'event').length >= events.length - 1);
    await again.stop();
    t.same(
      again.frames.filter((f) => f.event === 'event').map((f) => f.id).slice(0, events.length - 1),
      events.slice(1).map((f) => f.id),
      'a reconnect with Last-Event-ID gets what came after it, nothing twice',
    );

    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    t.match(metrics, 'pgshift_pair_stage{pair="demo",stage="reads-10"} 1');
    t.match(metrics, 'pgshift_pair_green_percent{pair="demo",name="reader"} 10');
    t.match(metrics, 'pgshift_pair_observed_green_percent{pair="demo",name="reader"} 10');
    t.match(metrics, 'pgshift_pair_halted{pair="demo"} 0');
    t.match(metrics, /^pgshift_leader 1$/m);
    t.match(metrics, /pgshift_signal_status\{pair="demo",signal="replication.lag_seconds",status="healthy"\} 1/);
    await client.post('/api/v1/pairs/demo/revert', { reason: 'test: reset' });
  });
});
