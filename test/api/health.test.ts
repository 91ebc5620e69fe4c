import t from 'tap';
import { buildApp } from '../../src/app.js';
import { createStatePool, pingState } from '../../src/store/state-db.js';
import { LAB_STATE_DATABASE } from '../../src/local/lab.js';
import { connectionUrl } from '../../src/postgres/connect.js';
import { resolveConfig } from '../../src/config/load.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';
import YAML from 'yaml';

t.test('health endpoints', async (t) => {
  const lab = await startTestLab(t);
  const log = testLogger();
  const state = lab.target('state', 'pgshift', LAB_STATE_DATABASE);
  const pool = createStatePool(connectionUrl(state), log);
  t.teardown(() => pool.end());
  const config = resolveConfig(YAML.parse(minimalConfigYaml()), MINIMAL_ENV);
  const app = await buildApp({ config, log, readiness: [{ name: 'state-store', run: () => pingState(pool) }] });
  t.teardown(() => app.close());

  await t.test('liveness answers without any dependency', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    t.equal(res.statusCode, 200);
    t.same(res.json(), { status: 'ok' });
  });

  await t.test('readiness follows the state store', async (t) => {
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(ready.statusCode, 200);
    t.same(ready.json().checks, [{ name: 'state-store', ok: true }]);

    await lab.servers.state.stop();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    t.equal(down.statusCode, 503);
    t.match(down.json(), { status: 'not ready', checks: [{ name: 'state-store', ok: false, detail: /state database unreachable/ }] });

    await lab.servers.state.start();
    t.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
  });

  await t.test('an unknown route answers 404 in the API error shape', async (t) => {
    const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
    t.equal(res.statusCode, 404);
    t.same(res.json(), { error: { code: 'PGSHIFT_ERR_NOT_FOUND', message: 'no route GET /nope' } });
  });
});
