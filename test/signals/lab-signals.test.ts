import t from 'tap';
import Value from 'typebox/value';
import { SignalsSchema, type SignalsConfig } from '../../src/config/schema.js';
import * as D from '../../src/defaults.js';
import { withClient } from '../../src/postgres/connect.js';
import type { Direction } from '../../src/replication/port.js';
import { createPairSignals } from '../../src/signals/create.js';
import type { PairSignals, SampleRound, SignalSnapshot } from '../../src/signals/pair-signals.js';
import { demoReplication, startTestLab, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';

const SAMPLE_SECONDS = 0.5;

function signalsConfig(): SignalsConfig {
  return Value.Default(SignalsSchema, {
    sampleSeconds: SAMPLE_SECONDS,
    consecutiveBreaches: 2,
    consecutiveErrors: 3,
    lag: { maxSeconds: 1, maxBytes: 256 * 1024 },
    probe: { intervalMs: 200, windowSeconds: 1.5, timeoutMs: 500, maxErrorRate: 0.05, maxP95Ms: 400 },
    dbErrors: { maxErrorRate: 0.2 },
  }) as SignalsConfig;
}

function find(round: { signals: SignalSnapshot[] } | SignalSnapshot[], id: string): SignalSnapshot {
  const list = Array.isArray(round) ? round : round.signals;
  const s = list.find((x) => x.id === id);
  if (!s) throw new Error(`no signal ${id}`);
  return s;
}

/** Resolves with the rounds the running sampler takes, as they come. */
function collectRounds(signals: PairSignals) {
  const rounds: SampleRound[] = [];
  const stop = signals.onSample((round) => rounds.push(round));
  return {
    rounds,
    stop,
    /** Waits until `n` more rounds than `from` were taken. */
    until: (from: number, n: number) => waitFor(`${n} sample rounds`, () => rounds.length >= from + n, 20_000, 20),
  };
}

t.test('signals measured on the lab', async (t) => {
  const lab = await startTestLab(t);
  const log = testLogger();
  const replication = demoReplication(t, lab, log);
  let direction: Direction | null = 'blue->green';
  const makeSignals = () => {
    const signals = createPairSignals({
      pairId: 'demo',
      databases: [D.LAB_DATABASE],
      config: signalsConfig(),
      replication,
      direction: () => direction,
      targets: lab.replicationTargets(),
      log,
    });
    t.teardown(() => signals.stop());
    return signals;
  };
  const onBlue = (sql: string) => withClient(lab.target('blue', 'admin'), (c) => c.query(sql));

  await t.test('lag rises within two samples while the subscription is disabled, and falls back once enabled', async (t) => {
    const signals = makeSignals();
    const watch = collectRounds(signals);
    signals.start();
    const calm = await waitFor('a round that reads caught up', () =>
      watch.rounds.find((r) => find(r, 'replication.lag_seconds').measurement?.value === 0),
    );
    t.equal(find(calm, 'replication.lag_seconds').assessment.status, 'healthy');
    t.equal(find(calm, 'replication.problems').assessment.status, 'healthy');
    t.ok(find(calm, 'replication.lag_bytes').measurement!.value! < 64 * 1024);

    await withClient(lab.target('green', 'admin'), (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} DISABLE`));
    await onBlue(`INSERT INTO customers (name, email) SELECT 'lag', 'lag-' || g || '@example.com' FROM generate_series(1, 5000) g`);
    const mark = watch.rounds.length;
    await watch.until(mark, 2);
    const seen = watch.rounds.slice(mark, mark + 2);
    t.ok(
      seen.some((r) => find(r, 'replication.lag_bytes').measurement!.value! > 256 * 1024),
      `lag in bytes over its limit within two samples: ${seen.map((r) => find(r, 'replication.lag_bytes').measurement?.value)}`,
    );
    t.ok(
      seen.some((r) => find(r, 'replication.lag_seconds').measurement!.value! > 0),
      `lag in seconds above zero within two samples: ${seen.map((r) => find(r, 'replication.lag_seconds').measurement?.value)}`,
    );
    t.equal(find(seen[1]!, 'replication.problems').assessment.status, 'breached', 'a disabled subscription breaches health at once');
    t.match(find(seen[1]!, 'replication.problems').measurement?.detail, { problems: [/disabled/] });

    const breach = await waitFor('lag in seconds to breach', () =>
      watch.rounds.slice(mark).find((r) => find(r, 'replication.lag_seconds').assessment.status === 'breached'),
    );
    t.ok(find(breach, 'replication.lag_seconds').measurement!.value! > 1);
    t.equal(find(breach, 'replication.lag_seconds').assessment.consecutiveBreaches >= 2, true);
    const rising = watch.rounds.slice(mark).map((r) => find(r, 'replication.lag_seconds').measurement?.value ?? 0);
    t.ok(rising[rising.length - 1]! > rising[1]!, `lag in seconds keeps growing while apply is stalled: ${rising}`);
    t.same(signals.replication(), { direction: 'blue->green', lagSeconds: rising[rising.length - 1], lagBytes: find(breach, 'replication.lag_bytes').measurement!.value, healthy: false }, 'the controller view agrees');

    await withClient(lab.target('green', 'admin'), (c) => c.query(`ALTER SUBSCRIPTION ${D.DEFAULT_SUBSCRIPTION} ENABLE`));
    const recovered = await waitFor('lag to fall back', () => {
      const latest = signals.latest();
      return find(latest, 'replication.lag_seconds').measurement?.value === 0 &&
        find(latest, 'replication.lag_bytes').measurement!.value! < 64 * 1024 &&
        find(latest, 'replication.problems').measurement?.value === 0
        ? latest
        : undefined;
    });
    t.equal(find(recovered, 'replication.lag_seconds').assessment.status, 'healthy');
    t.equal(find(recovered, 'replication.problems').assessment.status, 'healthy');
    t.ok(signals.history('replication.lag_seconds', 100)!.length > 5, 'the history keeps the samples');
    watch.stop();
    await signals.stop();
  });

  await t.test('rollbacks on blue raise its database error rate; green stays healthy', async (t) => {
    const signals = makeSignals();
    await signals.sampleOnce();
    const first = find(signals.latest(), 'db.error_rate:blue');
    t.equal(first.measurement?.value, null, 'the first reading only takes the counters');
    t.equal(first.assessment.status, 'unknown');
    // The statistics reach pg_stat_database within about half a second of a session's
    // commit or end, so each round of rollbacks is followed by samples until it shows.
    const rates: number[] = [];
    await waitFor(
      'the error rate to breach',
      async () => {
        await withClient(lab.target('blue', 'app'), async (c) => {
          for (let i = 0; i < 30; i++) {
            await c.query('BEGIN');
            await c.query('SELECT 1');
            await c.query('ROLLBACK');
          }
        });
        await new Promise((r) => setTimeout(r, SAMPLE_SECONDS * 1000));
        await signals.sampleOnce();
        const blue = find(signals.latest(), 'db.error_rate:blue');
        rates.push(blue.measurement?.value ?? -1);
        return blue.assessment.status === 'breached';
      },
      30_000,
      0,
    );
    t.ok(rates.some((r) => r > 0.2), `rates seen: ${rates}`);
    const blue = find(signals.latest(), 'db.error_rate:blue');
    t.ok(blue.measurement!.value! > 0.2, `rate ${blue.measurement?.value}`);
    t.ok(blue.assessment.consecutiveBreaches >= 2);
    t.match(blue.measurement?.detail, { rollbacks: Number });
    t.equal(blue.assessment.status, 'breached');
    const green = find(signals.latest(), 'db.error_rate:green');
    t.ok(green.measurement!.value! <= 0.2);
    t.equal(green.assessment.status, 'healthy');
    await signals.stop();
  });

  await t.test("stopping green's server takes its probes to 100 % errors and breaches; blue stays healthy", async (t) => {
    const signals = makeSignals();
    const watch = collectRounds(signals);
    signals.start();
    await waitFor('probes of both sides to be healthy', () => {
      const latest = signals.latest();
      return ['probe.error_rate:blue', 'probe.error_rate:green', 'probe.p95_ms:blue', 'db.error_rate:blue'].every(
        (id) => find(latest, id).assessment.status === 'healthy',
      );
    });

    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    const down = await waitFor('green probes to breach at 100 %', () => {
      const latest = signals.latest();
      const green = find(latest, 'probe.error_rate:green');
      return green.measurement?.value === 1 && green.assessment.status === 'breached' ? latest : undefined;
    });
    t.equal(find(down, 'probe.error_rate:green').side, 'green');
    t.match(find(down, 'probe.error_rate:green').measurement?.detail, { failed: Number, lastError: /ECONNREFUSED|connect|terminat/i });
    t.equal(find(down, 'probe.error_rate:blue').measurement?.value, 0);
    t.equal(find(down, 'probe.error_rate:blue').assessment.status, 'healthy', 'blue is not blamed');
    t.equal(find(down, 'probe.p95_ms:blue').assessment.status, 'healthy');
    t.equal(find(down, 'replication.problems').assessment.status, 'breached', 'replication to a stopped green is broken');
    t.equal(find(down, 'db.error_rate:blue').assessment.status, 'healthy');
    const status = signals.current().find((s) => s.name === 'probe.error_rate' && s.side === 'green');
    t.match(status, { state: 'breached', value: 1, limit: 0.05, unit: 'ratio', immediate: false, breachesToRevert: 2 });

    await lab.servers.green.start();
    await waitFor('green probes to recover', () => find(signals.latest(), 'probe.error_rate:green').assessment.status === 'healthy');
    t.pass('green answers again');
    watch.stop();
  });

  await t.test('with no replication at the stage, replication signals have no value', async (t) => {
    direction = null;
    const signals = makeSignals();
    await signals.sampleOnce();
    const lag = find(signals.latest(), 'replication.lag_seconds');
    t.equal(lag.measurement?.value, null);
    t.match(lag.measurement?.error, /no replication/);
    t.equal(lag.assessment.status, 'unknown');
    direction = 'blue->green';
  });
});
