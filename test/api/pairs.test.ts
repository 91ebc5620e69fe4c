import t, { type Test } from 'tap';
import YAML from 'yaml';
import { systemClock } from '../../src/clock.js';
import { createSeededRandom } from '../../src/local/route53/random.js';
import { resolveConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createPreflightService } from '../../src/preflight/service.js';
import { StateStorePreflightReports } from '../../src/preflight/store.js';
import { preflightPairFromConfig } from '../../src/preflight/targets.js';
import { PostgresReplication } from '../../src/replication/postgres-replication.js';
import { fixedReplicationTargets } from '../../src/replication/targets.js';
import type { Services } from '../../src/services.js';
import { createPairSignals } from '../../src/signals/create.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import type { ShiftStore } from '../../src/shift/store.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';
import { MemoryShiftStore } from '../helpers/memory-store.js';
import { waitFor } from '../helpers/wait.js';
import type { InjectOptions } from 'fastify';
import { apiRig, OPERATOR, VIEWER } from '../helpers/api-rig.js';

const as = (token: string) => ({ authorization: `Bearer ${token}` });

t.test('authentication and roles', async (t) => {
  const { app, store } = await apiRig(t);
  const none = await app.inject({ method: 'GET', url: '/api/v1/pairs' });
  t.equal(none.statusCode, 401);
  t.equal(none.headers['www-authenticate'], 'Bearer realm="pgshift"');
  t.equal(none.json().error.code, 'PGSHIFT_ERR_UNAUTHORIZED');

  const wrong = await app.inject({ method: 'GET', url: '/api/v1/pairs', headers: as('not-a-token') });
  t.equal(wrong.statusCode, 401);
  const malformed = await app.inject({ method: 'GET', url: '/api/v1/pairs', headers: { authorization: 'Basic abc' } });
  t.equal(malformed.statusCode, 401);

  const viewer = await app.inject({ method: 'GET', url: '/api/v1/pairs', headers: as(VIEWER) });
  t.equal(viewer.statusCode, 200);
  t.equal(viewer.json().pairs[0].id, 'orders');

  const forbidden = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/pause', headers: as(VIEWER), payload: {} });
  t.equal(forbidden.statusCode, 403);
  t.match(forbidden.json().error.message, /needs the operator role/);
  t.equal((await store.getPair('orders'))!.paused, false, 'nothing changed');

  t.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200, 'health needs no token');
});

t.test('an operator walks the pair forward and the answer carries the outcome', async (t) => {
  const { app, world } = await apiRig(t);
  const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: { expectedStage: 'baseline' } });
  t.equal(res.statusCode, 200, res.body);
  t.equal(res.json().intent.status, 'done');
  t.equal(res.json().pair.stage, 'reads-10');
  t.same(world.traffic.weights.reader, { blue: 90, green: 10 });

  const detail = await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: as(VIEWER) });
  t.match(detail.json(), {
    id: 'orders',
    stage: 'reads-10',
    weights: { reader: { blue: 90, green: 10 }, writer: { blue: 100, green: 0 } },
    observed: { reader: { blue: 90, green: 10 } },
    guards: Array,
    leader: { self: true, holder: 'api-test' },
  });

  const queued = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/pause?wait=false', headers: as(OPERATOR) });
  t.equal(queued.statusCode, 202);
  t.equal(queued.json().intent.status, 'pending');

  const events = await app.inject({ method: 'GET', url: '/api/v1/pairs/orders/events?limit=2', headers: as(VIEWER) });
  t.equal(events.statusCode, 200);
  t.equal(events.json().events.length, 2);
  const older = await app.inject({ method: 'GET', url: `/api/v1/pairs/orders/events?limit=50&before=${events.json().nextBefore}`, headers: as(VIEWER) });
  const all = [...events.json().events, ...older.json().events];
  t.ok(all.some((e: { action: string; actor: string; outcome: string }) => e.action === 'advance' && e.actor === 'alice' && e.outcome === 'ok'), 'the audit log says who advanced');
  t.ok(all.every((e: { id: number }, i: number) => i === 0 || e.id < all[i - 1].id), 'newest first');
});

// /metrics during a preparation is tested on the lab (lab-prepare-crash.test.ts).
t.test('prepare: 202 while it runs, then the intent says how it ended; progress in the view', async (t) => {
  const { app, store, world } = await apiRig(t, {}, { prepared: false });
  world.preparation.hold.add('initial-copy');
  const started = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/prepare?wait=false', headers: as(OPERATOR), payload: { reason: 'to 14' } });
  t.equal(started.statusCode, 202);
  const intent = started.json().intent.id as string;
  const view = await waitFor('the preparation in the view', async () => {
    const v = (await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: as(VIEWER) })).json();
    return v.preparation?.progress ? v : undefined;
  });
  t.match(view, { stage: 'unprepared', transition: { kind: 'prepare', to: 'baseline' }, preparation: { step: 'initial-copy', stepsTotal: 8, progress: { tablesTotal: 4 } } });
  const pending = await app.inject({ method: 'GET', url: `/api/v1/pairs/orders/intents/${intent}`, headers: as(VIEWER) });
  t.match(pending.json(), { intent: { id: intent, action: 'prepare', status: 'pending' } });
  const capitals = await app.inject({ method: 'GET', url: `/api/v1/pairs/orders/intents/${intent.toUpperCase()}`, headers: as(VIEWER) });
  t.match(capitals.json(), { intent: { id: intent } }, 'an id in capitals is the same id');
  world.preparation.release();
  const done = await waitFor('the intent done', async () => {
    const answer = (await app.inject({ method: 'GET', url: `/api/v1/pairs/orders/intents/${intent}`, headers: as(VIEWER) })).json();
    return answer.intent.status === 'pending' ? undefined : answer.intent;
  });
  t.match(done, { status: 'done', result: { stage: 'baseline' } });
  const other = await app.inject({ method: 'GET', url: `/api/v1/pairs/nope/intents/${intent}`, headers: as(VIEWER) });
  t.equal(other.statusCode, 404);
  // Another pair's intent is not this pair's, even when the id is right.
  const theirs = { ...structuredClone(store.intents.get(intent)!), id: '11111111-1111-4111-8111-111111111111', pair: 'invoices' };
  store.intents.set(theirs.id, theirs);
  const foreign = await app.inject({ method: 'GET', url: `/api/v1/pairs/orders/intents/${theirs.id}`, headers: as(VIEWER) });
  t.equal(foreign.statusCode, 404);
  t.equal(foreign.json().error.code, 'PGSHIFT_ERR_INTENT_NOT_FOUND');
});

t.test('bad input gets its 4xx and changes nothing', async (t) => {
  const { app, store, world } = await apiRig(t);
  const before = structuredClone(await store.getPair('orders'));
  const cases: { name: string; status: number; code: string; request: InjectOptions }[] = [
    { name: 'malformed JSON', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/advance', headers: { ...as(OPERATOR), 'content-type': 'application/json' }, payload: '{"expectedStage": ' } },
    { name: 'unknown field', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: { expectedStage: 'baseline', force: true } } },
    { name: 'bad stage name', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: { expectedStage: 'reads-1000' } } },
    { name: 'wrong type', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/revert', headers: as(OPERATOR), payload: { reason: 42 } } },
    { name: 'unknown pair', status: 404, code: 'PGSHIFT_ERR_PAIR_NOT_FOUND', request: { method: 'POST', url: '/api/v1/pairs/nope/advance', headers: as(OPERATOR), payload: {} } },
    { name: 'wrong expectedStage', status: 409, code: 'PGSHIFT_ERR_STAGE_MISMATCH', request: { method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: { expectedStage: 'reads-50' } } },
    { name: 'oversized body', status: 413, code: 'PGSHIFT_ERR_BODY_TOO_LARGE', request: { method: 'POST', url: '/api/v1/pairs/orders/revert', headers: as(OPERATOR), payload: { reason: 'x'.repeat(20_000) } } },
    { name: 'not JSON', status: 415, code: 'PGSHIFT_ERR_UNSUPPORTED_MEDIA_TYPE', request: { method: 'POST', url: '/api/v1/pairs/orders/advance', headers: { ...as(OPERATOR), 'content-type': 'text/plain' }, payload: 'advance please' } },
    { name: 'bad query', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/events?limit=0', headers: as(VIEWER) } },
    { name: 'unknown query field', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/events?page=2', headers: as(VIEWER) } },
    { name: 'pair id against the id rule', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/Orders/pause', headers: as(OPERATOR), payload: {} } },
    { name: 'malformed intent id', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/42', headers: as(VIEWER) } },
    { name: 'unknown intent', status: 404, code: 'PGSHIFT_ERR_INTENT_NOT_FOUND', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/00000000-0000-4000-8000-000000000000', headers: as(VIEWER) } },
    { name: 'prepare with an unknown field', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare', headers: as(OPERATOR), payload: { copyData: false } } },
    { name: 'prepare with expectedStage (advance only)', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare', headers: as(OPERATOR), payload: { expectedStage: 'unprepared' } } },
    { name: 'prepare with a reason too long', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare', headers: as(OPERATOR), payload: { reason: 'x'.repeat(501) } } },
    { name: 'prepare with a body that is no object', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare', headers: { ...as(OPERATOR), 'content-type': 'application/json' }, payload: '"now"' } },
    { name: 'prepare with wait not a boolean', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare?wait=maybe', headers: as(OPERATOR), payload: {} } },
    { name: 'prepare with wait twice', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare?wait=true&wait=false', headers: as(OPERATOR), payload: {} } },
    { name: 'prepare by a viewer', status: 403, code: 'PGSHIFT_ERR_FORBIDDEN', request: { method: 'POST', url: '/api/v1/pairs/orders/prepare', headers: as(VIEWER), payload: {} } },
    { name: 'prepare of an unknown pair', status: 404, code: 'PGSHIFT_ERR_PAIR_NOT_FOUND', request: { method: 'POST', url: '/api/v1/pairs/nope/prepare', headers: as(OPERATOR), payload: {} } },
    { name: 'intent id with a suffix', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/00000000-0000-4000-8000-000000000000x', headers: as(VIEWER) } },
    { name: 'intent id in braces', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/%7B00000000-0000-4000-8000-000000000000%7D', headers: as(VIEWER) } },
    { name: 'intent with a query', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/00000000-0000-4000-8000-000000000000?wait=true', headers: as(VIEWER) } },
    { name: 'intent of an unknown pair', status: 404, code: 'PGSHIFT_ERR_PAIR_NOT_FOUND', request: { method: 'GET', url: '/api/v1/pairs/nope/intents/00000000-0000-4000-8000-000000000000', headers: as(VIEWER) } },
    { name: 'intent without a token', status: 401, code: 'PGSHIFT_ERR_UNAUTHORIZED', request: { method: 'GET', url: '/api/v1/pairs/orders/intents/00000000-0000-4000-8000-000000000000' } },
    { name: 'undecodable URL', status: 400, code: 'PGSHIFT_ERR_BAD_REQUEST', request: { method: 'POST', url: '/api/v1/pairs/%E0%A4%A/pause', headers: as(OPERATOR), payload: {} } },
  ];
  for (const c of cases) {
    const res = await app.inject(c.request);
    t.equal(res.statusCode, c.status, `${c.name}: ${res.body.slice(0, 200)}`);
    t.equal(res.json().error?.code, c.code, c.name);
  }
  t.same(await store.getPair('orders'), before, 'the pair did not change');
  t.equal(world.traffic.applied.length, 0, 'no weights were set');
  t.equal(store.intents.size, 0, 'no intent was recorded');
});

t.test('a guard that fails gives 409 with every failing guard', async (t) => {
  const { app, world } = await apiRig(t);
  world.preflightStatus = null;
  world.clusterCheck = { ok: false, problems: ['green: cluster not available (stopped)'] };
  await waitFor('the controller to see the missing preflight', async () => {
    const view = (await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: as(VIEWER) })).json();
    return view.guards.some((g: { name: string; ok: boolean }) => g.name === 'preflight' && !g.ok);
  });
  const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: {} });
  t.equal(res.statusCode, 409);
  t.equal(res.json().error.code, 'PGSHIFT_ERR_GUARDS_FAILED');
  t.match(res.json().error.details.guards, [{ name: 'preflight', ok: false }]);
});

t.test('finalize needs confirm: true and green; anything else is refused with the reason', async (t) => {
  const { app, store, world } = await apiRig(t);
  const before = structuredClone(await store.getPair('orders'));
  const finalize = (payload?: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/api/v1/pairs/orders/finalize', headers: { ...as(OPERATOR), ...headers }, ...(payload === undefined ? {} : { payload: payload as object }) });
  const bad: [string, Awaited<ReturnType<typeof finalize>>, RegExp][] = [
    ['no body', await finalize(), /body/],
    ['an empty body', await finalize({}), /confirm/],
    ['without confirm', await finalize({ reason: 'done with blue' }), /confirm/],
    ['confirm false', await finalize({ confirm: false }), /confirm/],
    ['confirm as a string', await finalize({ confirm: 'yes' }), /confirm/],
    ['an unknown field', await finalize({ confirm: true, force: true }), /force|additional/],
    ['ignoreRollbackWindow not a boolean', await finalize({ confirm: true, ignoreRollbackWindow: 'yes' }), /ignoreRollbackWindow/],
  ];
  for (const [name, res, reason] of bad) {
    t.equal(res.statusCode, 400, `${name}: ${res.body.slice(0, 200)}`);
    t.equal(res.json().error.code, 'PGSHIFT_ERR_BAD_REQUEST', name);
    t.match(res.json().error.message, reason, `${name}: the message says what is wrong`);
  }
  t.equal(store.intents.size, 0, 'no intent was recorded');

  const early = await finalize({ confirm: true, ignoreRollbackWindow: true });
  t.equal(early.statusCode, 409);
  t.match(early.json().error, { code: 'PGSHIFT_ERR_CANNOT_FINALIZE', message: /finalize closes the way back from green; the pair is at baseline/, details: { stage: 'baseline' } });
  t.equal((await finalize({ confirm: true }, as(VIEWER))).statusCode, 403, 'a viewer may not finalize');
  t.same(await store.getPair('orders'), before, 'the pair did not change');
  t.equal(world.traffic.applied.length, 0);
  t.equal(store.intents.size, 0);
  t.ok(store.events.some((e) => e.action === 'finalize' && e.outcome === 'rejected'), 'the refusal is in the audit log');
});

t.test('the pair view shows the cutover fields; after a cutover the write window is in the view and on /metrics', async (t) => {
  const { app, world } = await apiRig(t);
  const view = async () => (await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: as(VIEWER) })).json();
  t.match(await view(), { cutover: null, lastWriteWindow: null, retired: null });

  for (const stage of ['baseline', 'reads-10', 'reads-25', 'reads-50', 'reads-100']) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/advance', headers: as(OPERATOR), payload: { expectedStage: stage } });
    t.equal(res.statusCode, 200, `advance from ${stage}: ${res.body.slice(0, 300)}`);
    t.equal(res.json().intent.status, 'done', `advance from ${stage}`);
  }
  const at = await view();
  t.equal(at.stage, 'green');
  t.match(at, { cutover: null, lastWriteWindow: { direction: 'blue->green', pgshiftMs: Number, route53Ms: 5 }, retired: null });
  t.same(world.traffic.weights, { reader: { blue: 0, green: 100 }, writer: { blue: 0, green: 100 } });
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.body, /pgshift_cutover_write_window_seconds\{pair="orders",direction="blue->green",part="pgshift"\} [0-9.e-]+/);
  t.match(metrics.body, /pgshift_cutover_write_window_seconds\{pair="orders",direction="blue->green",part="route53"\} 0\.005/);
  t.notMatch(metrics.body, /pgshift_cutover_running\{/, 'no cutover runs now');

  const done = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/finalize', headers: as(OPERATOR), payload: { confirm: true, reason: 'blue can go' } });
  t.equal(done.statusCode, 200, done.body.slice(0, 300));
  t.match(done.json(), { intent: { action: 'finalize', status: 'done' }, pair: { stage: 'finalized' } });
  t.match(await view(), { stage: 'finalized', retired: /may be retired/ });
  t.ok(world.cutover.closed, 'the way back was closed');
});

t.test('mutations are rate limited per token', async (t) => {
  const { app } = await apiRig(t);
  let limited = 0;
  for (let i = 0; i < 70; i++) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/pause?wait=false', headers: as(OPERATOR) });
    if (res.statusCode === 429) {
      limited++;
      t.equal(res.json().error.code, 'PGSHIFT_ERR_RATE_LIMITED');
    }
  }
  t.ok(limited > 0, `${limited} of 70 were limited`);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: as(VIEWER) })).statusCode, 200, 'reads are not limited');
});

t.test('the OpenAPI document describes the API and the UI is served', async (t) => {
  const { app } = await apiRig(t);
  const doc = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(doc.statusCode, 200);
  const paths = Object.keys(doc.json().paths);
  for (const path of ['/api/v1/pairs', '/api/v1/pairs/{pair}', '/api/v1/pairs/{pair}/advance', '/api/v1/pairs/{pair}/events']) {
    t.ok(paths.includes(path), path);
  }
  t.equal((await app.inject({ method: 'GET', url: '/docs/' })).statusCode, 200);
});

/**
 * Preflight and signals for pair `orders`, aimed at a port where nothing listens: a
 * preflight run reports blockers (it cannot connect), the samplers are never started,
 * and pushed application metrics are accepted.
 */
function unreachableParts(t: Test, store: ShiftStore): Pick<Services, 'preflight' | 'signals'> {
  const log = silentLogger();
  const config = resolveConfig(YAML.parse(minimalConfigYaml({ pairExtra: '    signals: { app: { enabled: true } }\n' })), MINIMAL_ENV);
  const pair = config.pairs[0]!;
  const nowhere = { host: '127.0.0.1', port: 1 };
  const targets = fixedReplicationTargets({
    blue: { writer: nowhere, login: pair.blue.login, adminLogin: pair.blue.adminLogin },
    green: { writer: nowhere, login: pair.green.login, adminLogin: pair.green.adminLogin },
  });
  const replication = new PostgresReplication({ pairId: pair.id, databases: pair.databases, publication: 'p', subscription: 's', targets, log });
  t.teardown(() => replication.close());
  const signals = new SignalRegistry();
  signals.add(
    createPairSignals({ pairId: pair.id, databases: pair.databases, config: pair.signals, replication, direction: () => 'blue->green', exposed: () => true, targets, log, acceptAppMetrics: true }),
  );
  const preflight = createPreflightService({
    pairs: [preflightPairFromConfig(pair)],
    targetsFor: () => targets,
    store: new StateStorePreflightReports(store, systemClock),
    log,
  });
  return { preflight, signals };
}

t.test('thousands of random requests never get a 5xx', async (t) => {
  const { app } = await apiRig(t, unreachableParts(t, new MemoryShiftStore()));
  const random = createSeededRandom(12345);
  const rand = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[rand(items.length)]!;
  // GET and POST weigh more: most of what reaches a handler arrives by them.
  const methods = ['GET', 'POST', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'] as const;
  const paths = ['/api/v1/pairs', '/api/v1/pairs/orders', '/api/v1/pairs/orders/advance', '/api/v1/pairs/orders/revert', '/api/v1/pairs/orders/pause', '/api/v1/pairs/orders/resume', '/api/v1/pairs/orders/events', '/api/v1/pairs/%00', '/api/v1/pairs/' + 'x'.repeat(300), '/api/v1/pairs/orders/events?limit=abc&before=-1', '/api/v1/pairs/orders/advance?wait=maybe', '/healthz', '/docs/json', '/api/v1/pairs/../../etc/passwd', '/%E0%A4%A', '/api/v1/pairs/orders/preflight', '/api/v1/pairs/nope/preflight', '/api/v1/pairs/orders/signals', '/api/v1/pairs/orders/signals/probe.error_rate:blue/history', '/api/v1/pairs/orders/signals/%ff/history?limit=-5', '/metrics', '/readyz', '/api/v1/pairs/orders/prepare', '/api/v1/pairs/orders/prepare?wait=true', '/api/v1/pairs/orders/intents/00000000-0000-4000-8000-000000000000', '/api/v1/pairs/orders/intents/ABCDEF00-0000-4000-8000-000000000000', '/api/v1/pairs/orders/intents/%ff', '/api/v1/pairs/orders/preflight?phase=prepare', '/api/v1/pairs/orders/preflight?phase=PREPARED', '/api/v1/pairs/orders/preflight?phase='];
  const bodies = [undefined, '', '{', '[]', 'null', '{"expectedStage":null}', '{"expectedStage":"baseline","x":1}', '{"reason":"' + 'é'.repeat(100) + '"}', '{"reason":{"a":1}}', '"string"', '1e309', '{"expectedStage":"reads-10"}', '{"__proto__":{"admin":true}}', '{"requests":10,"errors":2}', '{"requests":1,"errors":5}', '{"requests":-1,"errors":0}', '{"requests":1e400,"errors":0}'];
  const types = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined];
  const auths = [as(OPERATOR), as(VIEWER), {}, { authorization: 'Bearer ' }, { authorization: 'Bearer ' + 'a'.repeat(5000) }];
  const statuses = new Map<number, number>();
  for (let i = 0; i < 3000; i++) {
    const body = pick(bodies);
    const type = pick(types);
    const res = await app.inject({
      method: pick(methods),
      url: pick(paths) + (rand(5) === 0 ? '?wait=false' : ''),
      headers: { ...pick(auths), ...(type ? { 'content-type': type } : {}) },
      ...(body === undefined ? {} : { payload: body }),
    });
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    if (res.statusCode >= 500) t.fail(`5xx: ${res.statusCode} ${res.body.slice(0, 300)}`);
    // Every error answer with a body has the one error shape (the CLI reads error.code).
    if (res.statusCode >= 400 && res.body !== '' && typeof res.json().error?.code !== 'string') t.fail(`not the error shape: ${res.statusCode} ${res.body.slice(0, 300)}`);
  }
  t.ok([200, 400, 401, 403, 404].every((status) => statuses.has(status)), `handlers reached, not only refusals: ${JSON.stringify([...statuses])}`);
});
