import t from 'tap';
import type { Clock } from '../../src/clock.js';
import { createSeededRandom } from '../../src/local/route53/random.js';
import { pickWeighted, route53RecordSource, storeRecordSource, WeightedResolver, type Candidate } from '../../src/local/resolver.js';
import type { Change } from '../../src/local/route53/model.js';
import { createZone, sdkClient, startStandIn } from '../traffic/route53-helpers.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_700_000_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

const NAME = 'reader.demo.lab.test';

t.test('pickWeighted answers like Route 53', async (t) => {
  const c = (id: string, weight: number | null): Candidate => ({ setIdentifier: id, weight, value: `${id}.example.org` });
  t.equal(pickWeighted([c('blue', 90), c('green', 10)], () => 0).setIdentifier, 'blue');
  t.equal(pickWeighted([c('blue', 90), c('green', 10)], () => 0.8999).setIdentifier, 'blue');
  t.equal(pickWeighted([c('blue', 90), c('green', 10)], () => 0.9).setIdentifier, 'green');
  t.equal(pickWeighted([c('blue', 90), c('green', 10)], () => 0.99999).setIdentifier, 'green');
  t.equal(pickWeighted([c('blue', 0), c('green', 100)], () => 0).setIdentifier, 'green', 'weight 0 is never answered');
  t.equal(pickWeighted([c('blue', 100), c('green', 0)], () => 0.99999).setIdentifier, 'blue');
  t.equal(pickWeighted([c('blue', 0), c('green', 0)], () => 0.49).setIdentifier, 'blue', 'all 0: even split');
  t.equal(pickWeighted([c('blue', 0), c('green', 0)], () => 0.5).setIdentifier, 'green');
  t.equal(pickWeighted([c('only', null)], () => 0.7).setIdentifier, 'only', 'a simple record is the answer');
  t.throws(() => pickWeighted([], () => 0));
});

t.test('the weighted resolver over the Route 53 stand-in', async (t) => {
  const { standIn } = await startStandIn(t);
  const client = sdkClient(standIn.url);
  t.teardown(() => client.destroy());
  const zoneId = await createZone(client, 'lab.test');
  const setWeights = (blue: number, green: number, ttl = 5) => {
    const changes: Change[] = (['blue', 'green'] as const).map((side) => ({
      action: 'UPSERT',
      recordSet: { name: NAME, type: 'CNAME', setIdentifier: side, weight: side === 'blue' ? blue : green, ttl, values: [`demo-${side}.example.org`] },
    }));
    return standIn.store.changeRecordSets(zoneId, { changes });
  };

  t.test('10,000 resolutions land within a few percent of the weights', async (t) => {
    for (const [blue, green] of [
      [90, 10],
      [75, 25],
      [50, 50],
      [0, 100],
      [0, 0],
    ] as const) {
      await setWeights(blue, green);
      const clock = manualClock();
      const resolver = new WeightedResolver({ source: storeRecordSource(standIn.store, zoneId), clock, random: createSeededRandom(blue * 1000 + green) });
      const counts = { blue: 0, green: 0 };
      let cached = 0;
      for (let i = 0; i < 10_000; i++) {
        const answer = await resolver.resolve(NAME);
        if (answer.cached) cached++;
        counts[answer.setIdentifier as 'blue' | 'green']++;
        clock.advance(5_000);
      }
      t.equal(cached, 0, 'the clock moved one TTL between resolutions: every one is a fresh pick');
      const expectedGreen = blue + green === 0 ? 0.5 : green / (blue + green);
      const share = counts.green / 10_000;
      t.ok(Math.abs(share - expectedGreen) <= 0.02, `${blue}/${green}: green got ${(share * 100).toFixed(2)} %, expected ${(expectedGreen * 100).toFixed(0)} % (within 2 points)`);
      if (green === 0 && blue > 0) t.equal(counts.green, 0);
      if (blue === 0 && green > 0) t.equal(counts.blue, 0, 'weight 0 never answered');
    }
  });

  t.test('answers are cached for the record TTL, like a DNS client', async (t) => {
    await setWeights(100, 0, 5);
    const clock = manualClock();
    const resolver = new WeightedResolver({ source: route53RecordSource(client, zoneId), clock, random: createSeededRandom(1) });
    const lookups = () => standIn.requests('ListResourceRecordSets').length;

    const before = lookups();
    const first = await resolver.resolve(NAME);
    t.match(first, { name: `${NAME}.`, value: 'demo-blue.example.org', setIdentifier: 'blue', cached: false, expiresAt: clock.now() + 5_000 });
    t.equal(lookups(), before + 1, 'read through the SDK');

    await setWeights(0, 100, 5);
    clock.advance(4_999);
    const cached = await resolver.resolve(NAME.toUpperCase());
    t.match(cached, { value: 'demo-blue.example.org', cached: true }, 'within the TTL the old answer stands, even after the shift');
    t.equal(lookups(), before + 1, 'and Route 53 was not asked');

    clock.advance(1);
    const fresh = await resolver.resolve(NAME);
    t.match(fresh, { value: 'demo-green.example.org', setIdentifier: 'green', cached: false }, 'after the TTL the new weights apply');

    await setWeights(100, 0, 0);
    clock.advance(5_000);
    await resolver.resolve(NAME);
    const noTtl = await resolver.resolve(NAME);
    t.equal(noTtl.cached, false, 'TTL 0 is never cached');

    resolver.forget();
    await t.rejects(resolver.resolve('missing.lab.test'), { code: 'PGSHIFT_ERR_LAB_NAME_NOT_FOUND' });
  });
});
