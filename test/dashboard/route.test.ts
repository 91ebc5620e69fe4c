import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import t from 'tap';
import { DASHBOARD_CSP, DASHBOARD_DIR, dashboardRoutes } from '../../src/api/routes/dashboard.js';
import { apiRig } from '../helpers/api-rig.js';

/** How the service sends the page: precompressed, cached by name, under a strict CSP; and what it says when the page was not built. */

t.test('the built page is served with its headers', async (t) => {
  if (!existsSync(join(DASHBOARD_DIR, 'index.html'))) throw new Error('run npm run build:dashboard first');
  const { app } = await apiRig(t);

  const index = await app.inject({ method: 'GET', url: '/', headers: { 'accept-encoding': 'br, gzip' } });
  t.equal(index.statusCode, 200, 'no token needed for the page itself');
  t.equal(index.headers['content-security-policy'], DASHBOARD_CSP);
  t.equal(index.headers['x-content-type-options'], 'nosniff');
  t.equal(index.headers['referrer-policy'], 'no-referrer');
  t.equal(index.headers['cache-control'], 'no-cache', 'index.html is asked for again every time');
  t.equal(index.headers['content-encoding'], 'br', 'sent precompressed');
  t.match(index.headers['content-type'], /text\/html/);

  const script = readdirSync(join(DASHBOARD_DIR, 'assets')).find((f) => f.endsWith('.js'))!;
  const asset = await app.inject({ method: 'GET', url: `/assets/${script}`, headers: { 'accept-encoding': 'gzip' } });
  t.equal(asset.statusCode, 200);
  t.equal(asset.headers['content-encoding'], 'gzip');
  t.match(asset.headers['cache-control'], /immutable/, 'hashed assets are kept');
  t.match(asset.headers['content-type'], /javascript/);
  t.equal(asset.headers['content-security-policy'], DASHBOARD_CSP);

  const plain = await app.inject({ method: 'GET', url: `/assets/${script}` });
  t.equal(plain.headers['content-encoding'], undefined, 'uncompressed to a client that takes no encoding');

  for (const url of ['/assets/nope-ABCDEFGH.js', '/assets/..%2Fpackage.json', '/index.html.br']) {
    const res = await app.inject({ method: 'GET', url });
    t.equal(res.statusCode, 404, `${url} is not served`);
    t.match(res.json(), { error: { code: String } }, 'with the API error shape');
  }
});

t.test('without a built page, / answers 503 saying how to build it', async (t) => {
  const empty = await mkdtemp(join(tmpdir(), 'pgshift-no-dashboard-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  const app = Fastify();
  await app.register(dashboardRoutes, { dir: empty });
  t.teardown(() => app.close());
  const res = await app.inject({ method: 'GET', url: '/' });
  t.equal(res.statusCode, 503);
  t.match(res.json(), { error: { code: 'PGSHIFT_ERR_DASHBOARD_NOT_BUILT', message: /npm run build:dashboard/ } });
  t.equal(res.headers['content-security-policy'], DASHBOARD_CSP);
});
