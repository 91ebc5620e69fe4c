import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../../src/clock.js';
import { readConfigDocument, resolveConfig } from '../../src/config/load.js';
import { labBanner } from '../../src/local/banner.js';
import { LAB_HOSTED_ZONE, labClusterId, labEndpoint, labRecordName } from '../../src/local/lab-endpoints.js';
import { Lab } from '../../src/local/lab.js';
import { createRoute53Client } from '../../src/traffic/route53-client.js';
import { Route53Account, accountOptionsOf } from '../../src/traffic/route53-account.js';
import { Route53Router } from '../../src/traffic/route53-router.js';
import type { RecordTargets } from '../../src/traffic/router.js';
import { testLabDir, testLogger } from '../helpers/lab.js';

t.test('the lab runs the Route 53 stand-in with the demo pair\'s records, and keeps them across restarts', async (t) => {
  const dir = await testLabDir(t, 'pgshift-route53-lab-');
  const log = testLogger();
  let lab = await Lab.start({ dir, log });
  t.teardown(() => lab.stop());

  const env = lab.env();
  t.match(env.PGSHIFT_LAB_ROUTE53_ENDPOINT, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.match(env.PGSHIFT_LAB_HOSTED_ZONE_ID, /^Z[A-Z0-9]+$/);
  const state = JSON.parse(await readFile(join(dir, 'lab.json'), 'utf8'));
  t.equal(`http://127.0.0.1:${state.ports.route53}`, env.PGSHIFT_LAB_ROUTE53_ENDPOINT, 'the port is remembered in lab.json');

  // config/local.yaml picks the stand-in up through the lab's variables.
  const config = resolveConfig(await readConfigDocument('config/local.yaml'), env, 'config/local.yaml');
  t.equal(config.aws.route53Endpoint, env.PGSHIFT_LAB_ROUTE53_ENDPOINT);
  const pair = config.pairs[0]!;
  t.equal(pair.dns.hostedZoneId, env.PGSHIFT_LAB_HOSTED_ZONE_ID);
  t.equal(pair.dns.reader.name, labRecordName('reader'));

  const targets: RecordTargets = {
    reader: { blue: labEndpoint(labClusterId('blue'), 'reader'), green: labEndpoint(labClusterId('green'), 'reader') },
    writer: { blue: labEndpoint(labClusterId('blue'), 'writer'), green: labEndpoint(labClusterId('green'), 'writer') },
  };
  t.same(config.aws.route53, { requestsPerSecond: 5, burst: 20, observeMs: 5_000, minListIntervalMs: 1_000 }, 'the Route 53 budget defaults, well under the account limit');
  const client = createRoute53Client(config.aws);
  t.teardown(() => client.destroy());
  // As the service builds it: one account from the config (budget, observation), the lab's stand-in enforcing the account limits.
  const account = new Route53Account({ ...accountOptionsOf(config.aws), client, clock: systemClock, log, retry: { maxAttempts: 10, baseDelayMs: 50, maxDelayMs: 500 }, minListIntervalMs: 0 });
  t.teardown(() => account.close());
  const router = Route53Router.forPair(pair, { account, log });

  const observed = await router.observe();
  t.same([observed.reader, observed.writer], [{ blue: 100, green: 0 }, { blue: 100, green: 0 }], 'the lab created both names at blue 100 / green 0');
  for (const kind of ['reader', 'writer'] as const) {
    t.same(
      observed.names[kind].records.map((r) => [r.setIdentifier, r.type, r.ttl, r.values[0]]),
      [
        ['blue', 'CNAME', pair.dns[kind].ttl, targets[kind].blue],
        ['green', 'CNAME', pair.dns[kind].ttl, targets[kind].green],
      ],
      `${kind}: weighted CNAMEs to the lab clusters' endpoints, with the configured TTL`,
    );
  }
  t.same(await router.ensureRecords(targets), { reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } }, 'pgshift accepts the lab\'s records as its own');
  await router.setWeights({ reader: { blue: 90, green: 10 } }, { comment: 'before the restart' });

  t.match(await labBanner(lab, 'http://127.0.0.1:7070'), new RegExp(`Route 53 +${env.PGSHIFT_LAB_ROUTE53_ENDPOINT!.replace(/\./g, '\\.')}.*hosted zone ${env.PGSHIFT_LAB_HOSTED_ZONE_ID}`), 'the banner shows the stand-in');

  await lab.stop();
  lab = await Lab.start({ dir, log });
  const again = lab.env();
  t.equal(again.PGSHIFT_LAB_HOSTED_ZONE_ID, env.PGSHIFT_LAB_HOSTED_ZONE_ID, 'the same hosted zone after a restart');
  t.equal(again.PGSHIFT_LAB_ROUTE53_ENDPOINT, env.PGSHIFT_LAB_ROUTE53_ENDPOINT, 'on the same port');
  t.equal(lab.route53?.standIn.store.listHostedZonesByName({ dnsName: LAB_HOSTED_ZONE }).zones.filter((z) => z.name === `${LAB_HOSTED_ZONE}.`).length, 1, 'created once');
  const afterRestart = await router.verify({ reader: { blue: 90, green: 10 }, writer: { blue: 100, green: 0 } });
  t.ok(afterRestart.ok, 'weights pgshift set survive a restart of the lab');
  t.same(afterRestart.differences, []);
});
