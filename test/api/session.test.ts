import t from 'tap';
import { apiRig, OPERATOR, VIEWER } from '../helpers/api-rig.js';
import { MemorySessionStore } from '../helpers/memory-sessions.js';
import type { App } from '../../src/app.js';

interface SignedIn {
  cookie: string;
  csrf: string;
  setCookie: string;
}

async function signIn(app: App, token: string, headers: Record<string, string> = {}): Promise<SignedIn> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token }, headers });
  if (res.statusCode !== 200) throw new Error(`sign-in answered ${res.statusCode}: ${res.body}`);
  const setCookie = String(res.headers['set-cookie']);
  const cookie = /pgshift_session=([^;]+)/.exec(setCookie)![1]!;
  return { cookie: `pgshift_session=${cookie}`, csrf: res.json().csrfToken, setCookie };
}

t.test('signing in sets an HttpOnly, SameSite=Strict cookie with an expiry, and no token reaches the page', async (t) => {
  const { app } = await apiRig(t);
  const before = Date.now();
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: OPERATOR } });
  t.equal(res.statusCode, 200, res.body);
  const body = res.json();
  t.match(body, { actor: 'alice', role: 'operator', csrfToken: /^[A-Za-z0-9_-]{32}$/ });
  t.ok(body.expiresAt >= before + 8 * 3600 * 1000, 'the session lasts the configured time');
  t.notMatch(res.body, OPERATOR, 'the answer does not echo the token');
  const setCookie = String(res.headers['set-cookie']);
  t.match(setCookie, /^pgshift_session=[A-Za-z0-9_-]{43}; Max-Age=28800; Path=\/; HttpOnly; SameSite=Strict$/);
  t.notMatch(setCookie, /Secure/, 'plain HTTP cannot carry a Secure cookie');
});

t.test('the cookie is Secure when the client reached pgshift over TLS', async (t) => {
  const { app } = await apiRig(t, {}, { trustProxy: true });
  const { setCookie } = await signIn(app, VIEWER, { 'x-forwarded-proto': 'https' });
  t.match(setCookie, /; Secure/);
});

t.test('a bad sign-in is refused and sets nothing', async (t) => {
  const { app, sessions } = await apiRig(t);
  const wrong = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: 'not-a-token' } });
  t.equal(wrong.statusCode, 401);
  t.equal(wrong.json().error.code, 'PGSHIFT_ERR_UNAUTHORIZED');
  t.notOk(wrong.headers['set-cookie']);
  for (const payload of [{}, { token: '' }, { token: OPERATOR, remember: true }]) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/session', payload });
    t.equal(res.statusCode, 400, JSON.stringify(payload));
  }
  t.equal(sessions.sessions.size, 0);
});

t.test('guessing tokens is bounded per address', async (t) => {
  const { app } = await apiRig(t);
  const answers: number[] = [];
  for (let i = 0; i < 12; i++) {
    answers.push((await app.inject({ method: 'POST', url: '/api/v1/session', payload: { token: `guess-${i}` } })).statusCode);
  }
  t.same(answers.slice(0, 10), Array(10).fill(401));
  t.same(answers.slice(10), [429, 429]);
});

t.test('a signed-in browser reads with its cookie and acts only with the CSRF token', async (t) => {
  const { app, store } = await apiRig(t);
  const operator = await signIn(app, OPERATOR);

  const list = await app.inject({ method: 'GET', url: '/api/v1/pairs', headers: { cookie: operator.cookie } });
  t.equal(list.statusCode, 200);
  const who = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { cookie: operator.cookie } });
  t.match(who.json(), { actor: 'alice', role: 'operator', csrfToken: operator.csrf });

  const forged = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/pause', headers: { cookie: operator.cookie }, payload: {} });
  t.equal(forged.statusCode, 403);
  t.equal(forged.json().error.code, 'PGSHIFT_ERR_CSRF');
  const wrongToken = await app.inject({
    method: 'POST',
    url: '/api/v1/pairs/orders/pause',
    headers: { cookie: operator.cookie, 'x-pgshift-csrf': `${operator.csrf.slice(1)}x` },
    payload: {},
  });
  t.equal(wrongToken.statusCode, 403);
  t.equal((await store.getPair('orders'))!.paused, false, 'neither forged request changed anything');

  const paused = await app.inject({
    method: 'POST',
    url: '/api/v1/pairs/orders/pause',
    headers: { cookie: operator.cookie, 'x-pgshift-csrf': operator.csrf },
    payload: { reason: 'from the dashboard' },
  });
  t.equal(paused.statusCode, 200, paused.body);
  t.equal((await store.getPair('orders'))!.paused, true);
  const { events } = await store.listEvents('orders', { limit: 5 });
  t.equal(events.find((e) => e.action === 'pause')?.actor, 'alice', 'the audit log names who pressed the button');
});

t.test("a viewer's session reads everything and the API refuses its actions", async (t) => {
  const { app, store } = await apiRig(t);
  const viewer = await signIn(app, VIEWER);
  t.equal((await app.inject({ method: 'GET', url: '/api/v1/pairs/orders', headers: { cookie: viewer.cookie } })).statusCode, 200);
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/pairs/orders/advance',
    headers: { cookie: viewer.cookie, 'x-pgshift-csrf': viewer.csrf },
    payload: {},
  });
  t.equal(res.statusCode, 403);
  t.match(res.json().error.message, /needs the operator role/);
  t.equal((await store.getPair('orders'))!.stage, 'baseline');
});

t.test('signing out ends the session for every later request', async (t) => {
  const { app, sessions } = await apiRig(t);
  const operator = await signIn(app, OPERATOR);
  const noCsrf = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: operator.cookie } });
  t.equal(noCsrf.statusCode, 403, 'a forged sign-out is refused too');
  const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: { cookie: operator.cookie, 'x-pgshift-csrf': operator.csrf } });
  t.equal(out.statusCode, 204);
  t.match(String(out.headers['set-cookie']), /pgshift_session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict/);
  t.equal(sessions.sessions.size, 0);
  const after = await app.inject({ method: 'GET', url: '/api/v1/pairs', headers: { cookie: operator.cookie } });
  t.equal(after.statusCode, 401);
  t.match(after.json().error.message, /session has ended/);
});

t.test('a session ends when it expires or when its token leaves the configuration', async (t) => {
  const sessions = new MemorySessionStore();
  const first = await apiRig(t, {}, { sessions });
  const operator = await signIn(first.app, OPERATOR);
  const viewer = await signIn(first.app, VIEWER);

  for (const session of sessions.sessions.values()) if (session.actor === 'victor') session.expiresAt = Date.now() - 1;
  const expired = await first.app.inject({ method: 'GET', url: '/api/v1/pairs', headers: { cookie: viewer.cookie } });
  t.equal(expired.statusCode, 401);

  for (const session of sessions.sessions.values()) session.tokenSha256 = '0'.repeat(64);
  const revoked = await first.app.inject({ method: 'GET', url: '/api/v1/pairs', headers: { cookie: operator.cookie } });
  t.equal(revoked.statusCode, 401, "a session whose token is no longer configured is over");
});

t.test('a bearer token still works beside sessions and needs no CSRF token', async (t) => {
  const { app } = await apiRig(t);
  const res = await app.inject({ method: 'POST', url: '/api/v1/pairs/orders/pause', headers: { authorization: `Bearer ${OPERATOR}` }, payload: {} });
  t.equal(res.statusCode, 200);
  const who = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { authorization: `Bearer ${OPERATOR}` } });
  t.same(who.json(), { actor: 'alice', role: 'operator', csrfToken: null, expiresAt: null });
});
