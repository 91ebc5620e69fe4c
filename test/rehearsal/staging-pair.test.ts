import t from 'tap';
import YAML from 'yaml';
import { resolveConfig } from '../../src/config/load.js';
import { createSnapshotId } from '../../src/clusters/snapshot-id.js';
import type { PairConfig } from '../../src/config/schema.js';
import * as D from '../../src/defaults.js';
import { rehearsalNotPossible, stagingPair } from '../../src/rehearsal/runner.js';
import { stagingIds, stagingOwner } from '../../src/rehearsal/staging.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';

function pairWith(blue: Record<string, unknown>, green: Record<string, unknown>): PairConfig {
  const doc = YAML.parse(minimalConfigYaml());
  Object.assign(doc.pairs[0].blue, blue);
  Object.assign(doc.pairs[0].green, green);
  for (const side of ['blue', 'green']) {
    if ('rdsClusterId' in doc.pairs[0][side]) {
      delete doc.pairs[0][side].host;
      delete doc.pairs[0][side].port;
    }
  }
  return resolveConfig(doc, MINIMAL_ENV).pairs[0]!;
}

t.test('the staging pair points at the staging clusters only, with the pair\'s settings', async (t) => {
  const pair = pairWith({ rdsClusterId: 'orders-pg13', subscriptionHost: '10.0.0.5' }, { rdsClusterId: 'orders-pg14' });
  const staging = stagingPair(pair, 'r1a2b');
  const ids = stagingIds('r1a2b');
  t.same(ids, { blue: 'pgshift-rehearsal-r1a2b-blue', green: 'pgshift-rehearsal-r1a2b-green' });
  t.equal(staging.blue.rdsClusterId, ids.blue);
  t.equal(staging.green.rdsClusterId, ids.green);
  t.equal(staging.blue.subscriptionHost, '10.0.0.5');
  t.equal(staging.id, 'rehearsal-r1a2b-orders');
  t.not(staging.id, pair.id, 'never the real pair\'s id');
  t.equal(staging.blue.login, pair.blue.adminLogin, 'staging blue is reached with the admin login a restore keeps');
  t.equal(staging.green.login, pair.green.login);
  t.same(staging.cutover, pair.cutover);
  t.equal(stagingOwner('r1a2b'), 'rehearsal-r1a2b');
});

t.test('what cannot be rehearsed is refused with the reason', async (t) => {
  const plain = pairWith({}, {});
  t.match(rehearsalNotPossible(plain), { code: 'PGSHIFT_ERR_REHEARSAL_NOT_RDS', status: 409 });
  const clash = pairWith({ rdsClusterId: 'pgshift-rehearsal-old-blue' }, { rdsClusterId: 'orders-pg14' });
  t.match(rehearsalNotPossible(clash), { code: 'PGSHIFT_ERR_REHEARSAL_NAME_CLASH', status: 409, message: /pgshift-rehearsal-old-blue/ });
  t.equal(rehearsalNotPossible(pairWith({ rdsClusterId: 'orders-pg13' }, { rdsClusterId: 'orders-pg14' })), null);
});

t.test('a pair whose own cutover snapshots would be named like a rehearsal\'s is refused', async (t) => {
  const named = (id: string) => ({ ...pairWith({ rdsClusterId: 'orders-pg13' }, { rdsClusterId: 'orders-pg14' }), id });
  for (const id of ['rehearsal', 'rehearsal-orders']) {
    const refused = rehearsalNotPossible(named(id));
    t.match(refused, { code: 'PGSHIFT_ERR_REHEARSAL_NAME_CLASH', status: 409, message: new RegExp(`pair ${id}: its cutover snapshots would be named pgshift-${id}-\\*`) }, id);
    t.ok(createSnapshotId(`${id}-blue-cutover`, Date.UTC(2026, 0, 1)).startsWith(D.REHEARSAL_CLUSTER_PREFIX), `${id}: the clash is real`);
  }
  for (const id of ['rehearsals', 'rehearsalorders', 'orders-rehearsal']) {
    t.equal(rehearsalNotPossible(named(id)), null, `${id}: its snapshots are pgshift-${id}-*, not pgshift-rehearsal-*`);
    t.notOk(createSnapshotId(`${id}-blue-cutover`, Date.UTC(2026, 0, 1)).startsWith(D.REHEARSAL_CLUSTER_PREFIX), `${id}: no clash`);
  }
});
