import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import YAML from 'yaml';
import { buildApp } from '../../src/app.js';
import { resolveConfig } from '../../src/config/load.js';
import { AppMetricsInbox, appErrorSignal } from '../../src/signals/app-metrics.js';
import { PairSignals } from '../../src/signals/pair-signals.js';
import { SignalRegistry } from '../../src/signals/registry.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';
import { testLogger } from '../helpers/lab.js';

const OPERATOR = 'operator-token-for-signal-tests';
const VIEWER = 'viewer-token-for-signal-tests';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

async function build(t: Test, options: { metricsRequireToken?: boolean } = {}) {
  const top = `auth:
  metricsRequireToken: ${options.metricsRequireToken === true}
  tokens:
    - { name: ops, role: operator, sha256: ${sha(OPERATOR)} }
    - { name: dash, role: viewer, sha256: ${sha(VIEWER)} }`;
  const config = resolveConfig(YAML.parse(minimalConfigYaml({ top })), MINIMAL_ENV);
  const log = testLogger();
  const pair = config.pairs[0]!;
  const inbox = new AppMetricsInbox(pair.signals.app.windowSeconds * 1000);
  const signals = new PairSignals({ pairId: pair.id, providers: [appErrorSignal(inbox)], config: pair.signals, appMetrics: inbox, exposed: () => true, log });
  const registry = new SignalRegistry();
  registry.add(signals);
  const app = await buildApp({ config, log, readiness: [], signals: registry });
  t.teardown(() => app.close());
  return { app, signals };
}

const push = (payload: unknown, token = OPERATOR, pair = 'orders') => ({
  method: 'POST' as const,
  url: `/api/v1/pairs/${pair}/signals`,
  headers: { authorization: `Bearer ${token}` },
  payload: payload as Record<string, unknown>,
});

t.test('applications push their error counts; the pair reads them as a signal', async (t) => {
  const { app, signals } = await build(t);

  const accepted = await app.inject(push({ requests: 180, errors: 9, source: 'checkout-api/1', side: 'green' }));
  t.equal(accepted.statusCode, 202);
  t.same(accepted.json(), { pair: 'orders', accepted: { requests: 180, errors: 9 } });
  t.equal((await app.inject(push({ requests: 20, errors: 1 }))).statusCode, 202, 'source and side are optional');

  await signals.sampleOnce();
  const read = await app.inject({ method: 'GET', url: '/api/v1/pairs/orders/signals', headers: { authorization: `Bearer ${VIEWER}` } });
  t.equal(read.statusCode, 200);
  const [signal] = read.json().signals;
  t.match(signal, {
    id: 'app.error_rate',
    side: null,
    measurement: { value: 0.05, detail: { requests: 200, errors: 10, pushes: 2, sources: ['checkout-api/1'] } },
    assessment: { status: 'healthy', reverts: false, limit: 0.05, control: null, reason: '5 % <= limit 5 %' },
    limit: { max: 0.05 },
  });

  const history = await app.inject({
    method: 'GET',
    url: '/api/v1/pairs/orders/signals/app.error_rate/history?n=5',
    headers: { authorization: `Bearer ${VIEWER}` },
  });
  t.equal(history.statusCode, 200);
  t.equal(history.json().measurements.length, 1);
  t.equal(history.json().measurements[0].value, 0.05);
});

t.test('bad pushes are refused with a reason', async (t) => {
  const { app } = await build(t);
  const cases: [string, unknown][] = [
    ['an empty body', {}],
    ['a missing error count', { requests: 10 }],
    ['a negative count', { requests: -1, errors: 0 }],
    ['a fractional count', { requests: 1.5, errors: 0 }],
    ['a count as a string', { requests: '10', errors: 0 }],
    ['an unknown field', { requests: 10, errors: 0, latency: 5 }],
    ['an unknown side', { requests: 10, errors: 0, side: 'purple' }],
    ['more errors than requests', { requests: 10, errors: 11 }],
    ['an array', [{ requests: 10, errors: 0 }]],
  ];
  for (const [what, payload] of cases) {
    const res = await app.inject(push(payload));
    t.equal(res.statusCode, 400, what);
    t.equal(res.json().error.code, 'PGSHIFT_ERR_BAD_REQUEST', what);
  }
  const noBody = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/signals', headers: { authorization: `Bearer ${OPERATOR}` } });
  t.equal(noBody.statusCode, 400, 'no body');
  const broken = await app.inject({
    method: 'POST',
    url: '/api/v1/pairs/orders/signals',
    headers: { authorization: `Bearer ${OPERATOR}`, 'content-type': 'application/json' },
    payload: '{"requests": 1,',
  });
  t.equal(broken.statusCode, 400, 'malformed JSON');
  t.equal((await app.inject(push({ requests: 1, errors: 0 }, OPERATOR, 'Not_A_Pair'))).statusCode, 400, 'a pair id that cannot exist');

  const unknown = await app.inject(push({ requests: 1, errors: 0 }, OPERATOR, 'payments'));
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().error.code, 'PGSHIFT_ERR_PAIR_NOT_FOUND');
  const noSignal = await app.inject({
    method: 'GET',
    url: '/api/v1/pairs/orders/signals/no.such_signal/history',
    headers: { authorization: `Bearer ${VIEWER}` },
  });
  t.equal(noSignal.statusCode, 404);
  t.equal(noSignal.json().error.code, 'PGSHIFT_ERR_SIGNAL_NOT_FOUND');

  t.equal((await app.inject(push({ requests: 1, errors: 0 }, VIEWER))).statusCode, 403, 'viewers cannot push');
  t.equal((await app.inject({ ...push({ requests: 1, errors: 0 }), headers: {} })).statusCode, 401, 'nobody anonymous can');
});

t.test('/metrics exports every signal in the Prometheus text format', async (t) => {
  const { app, signals } = await build(t);
  let res = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(res.statusCode, 200);
  t.match(res.body, /pgshift_signal_status\{pair="orders",signal="app.error_rate",status="unknown"\} 1/, 'before any sample: unknown');
  t.notMatch(res.body, /pgshift_signal_value\{/, 'no value is exported as absent, not as 0');

  await app.inject(push({ requests: 50, errors: 25 }));
  await signals.sampleOnce();
  await signals.sampleOnce();
  await signals.sampleOnce();
  res = await app.inject({ method: 'GET', url: '/metrics' });
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const lines = res.body.split('\n');
  for (const expected of [
    '# TYPE pgshift_signal_value gauge',
    'pgshift_signal_value{pair="orders",signal="app.error_rate"} 0.5',
    'pgshift_signal_limit{pair="orders",signal="app.error_rate"} 0.05',
    'pgshift_signal_status{pair="orders",signal="app.error_rate",status="breached"} 1',
    'pgshift_signal_status{pair="orders",signal="app.error_rate",status="healthy"} 0',
    'pgshift_signal_consecutive_breaches{pair="orders",signal="app.error_rate"} 3',
    'pgshift_signal_reverts{pair="orders",signal="app.error_rate"} 1',
    '# TYPE pgshift_signal_samples_total counter',
    'pgshift_signal_samples_total{pair="orders",signal="app.error_rate"} 3',
  ]) {
    t.ok(lines.includes(expected), expected);
  }
});

t.test('/metrics can require a viewer token', async (t) => {
  const { app } = await build(t, { metricsRequireToken: true });
  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${VIEWER}` } })).statusCode, 200);
});
