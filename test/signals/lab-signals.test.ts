import pg from 'pg';
import t from 'tap';
import Value from 'typebox/value';
import { SignalsSchema, type SignalsConfig } from '../../src/config/schema.js';
import * as D from '../../src/defaults.js';
import { clientConfig, withClient } from '../../src/postgres/connect.js';
import type { Direction } from '../../src/replication/port.js';
import { assessSignal } from '../../src/signals/assess.js';
import { createPairSignals } from '../../src/signals/create.js';
import { PairSignals, type SampleRound, type SignalSnapshot } from '../../src/signals/pair-signals.js';
import { Prober, probeSignals } from '../../src/signals/probe.js';
import type { Side } from '../../src/shift/model.js';
import { demoReplication, fillConnectionSlots, freezePostmaster, startTestLab, testLogger } from '../helpers/lab.js';
import { waitFor } from '../helpers/wait.js';
import { DelayProxy } from './delay-proxy.js';

const SAMPLE_SECONDS = 0.5;
const PROBE = { intervalMs: 200, windowSeconds: 1.5, timeoutMs: 500, maxErrorRate: 0.05, maxP95Ms: 400 };
const CONSECUTIVE_BREACHES = 2;

function signalsConfig(overrides: Record<string, unknown> = {}): SignalsConfig {
  return Value.Default(SignalsSchema, {
    sampleSeconds: SAMPLE_SECONDS,
    consecutiveBreaches: CONSECUTIVE_BREACHES,
    consecutiveErrors: 3,
    lag: { maxSeconds: 1, maxBytes: 256 * 1024 },
    probe: PROBE,
    dbErrors: { maxErrorRate: 0.2 },
    ...overrides,
  }) as SignalsConfig;
}

/**
 * Sample rounds from a fault to the breach of the side's probe error rate, at most: the
 * next probe round starts within one probe interval, fails within its deadline, the
 * next sample reads it, and `consecutiveBreaches` readings confirm it; plus one round
 * of slack for a busy machine. The same bound holds for a dead side and for one that
 * only refuses new connections.
 */
const BREACH_BOUND_ROUNDS = Math.ceil((PROBE.intervalMs + PROBE.timeoutMs) / (SAMPLE_SECONDS * 1000)) + CONSECUTIVE_BREACHES + 1;

/** The process id of a lab server's postmaster (first line of postmaster.pid). */
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
  // As at a read stage: both sides take application traffic.
  const exposed: Record<Side, boolean> = { blue: true, green: true };
  const makeSignals = () => {
    const signals = createPairSignals({
      pairId: 'demo',
      databases: [D.LAB_DATABASE],
      config: signalsConfig(),
      replication,
      direction: () => direction,
      exposed: (side) => exposed[side],
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
    // The statistics reach pg_stat_database some time after a session's commit or end,
    // so each round of rollbacks is sampled once blue's counters show it.
    const rollbacksOnBlue = () =>
      withClient(lab.target('blue', 'admin'), async (c) => {
        const { rows } = await c.query<{ n: string }>(`SELECT xact_rollback::text AS n FROM pg_stat_database WHERE datname = $1`, [D.LAB_DATABASE]);
        return Number(rows[0]!.n);
      });
    const rates: number[] = [];
    await waitFor(
      'the error rate to breach',
      async () => {
        const before = await rollbacksOnBlue();
        await withClient(lab.target('blue', 'app'), async (c) => {
          for (let i = 0; i < 30; i++) {
            await c.query('BEGIN');
            await c.query('SELECT 1');
            await c.query('ROLLBACK');
          }
        });
        await waitFor('the rollbacks to reach pg_stat_database', async () => (await rollbacksOnBlue()) >= before + 30, 10_000);
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

    const mark = watch.rounds.length;
    await lab.servers.green.stop();
    t.teardown(() => lab.servers.green.start());
    await waitFor('green probes to breach', () => watch.rounds.slice(mark).some((r) => find(r, 'probe.error_rate:green').assessment.status === 'breached'));
    const rounds = watch.rounds.slice(mark).findIndex((r) => find(r, 'probe.error_rate:green').assessment.status === 'breached') + 1;
    t.ok(rounds <= BREACH_BOUND_ROUNDS, `breached ${rounds} sample rounds after the stop (bound ${BREACH_BOUND_ROUNDS})`);
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
    t.match(status, { state: 'breached', reverts: true, value: 1, limit: 0.05, unit: 'ratio', immediate: false, breachesToRevert: 2 });
    t.match(status?.summary, /^probe\.error_rate:green 100 % > limit 5 % for \d+ samples/);
    const replicationStatus = signals.current().find((s) => s.name === 'replication.problems');
    t.match(replicationStatus, { side: 'both', state: 'breached', reverts: true }, 'replication broken while green takes traffic reverts');

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
    t.equal(lag.assessment.reverts, false, 'nothing to measure is not missing data');
    t.equal(lag.assessment.consecutiveErrors, 0);
    direction = 'blue->green';
  });

  /** Green's probe error rate in the rounds from `mark`, once breached; with the round count. */
  const greenBreach = async (watch: ReturnType<typeof collectRounds>, mark: number) => {
    const isBreached = (r: SampleRound) => find(r, 'probe.error_rate:green').assessment.status === 'breached';
    const round = await waitFor('green probes to breach', () => watch.rounds.slice(mark).find(isBreached));
    return { round, rounds: watch.rounds.slice(mark).indexOf(round) + 1 };
  };
  const healthyProbes = (signals: PairSignals) =>
    waitFor('probes of both sides to be healthy, new connections included', () => {
      const latest = signals.latest();
      const green = find(latest, 'probe.error_rate:green');
      return (
        ['probe.error_rate:blue', 'probe.error_rate:green', 'probe.p95_ms:green'].every((id) => find(latest, id).assessment.status === 'healthy') &&
        (green.measurement?.detail as { connect?: { probes: number } } | undefined)?.connect?.probes! > 0
      );
    }, 20_000);

  await t.test('a green whose max_connections is reached breaches like a dead one and reverts, while its kept sessions still answer', async (t) => {
    const signals = makeSignals();
    const watch = collectRounds(signals);
    signals.start();
    await healthyProbes(signals);

    const held = await fillConnectionSlots(lab, 'green');
    // Counted from when the slots are all taken (a non-superuser was refused three times).
    const mark = watch.rounds.length;
    const release = async () => {
      await Promise.all(held.splice(0).map((c) => c.end().catch(() => {})));
    };
    t.teardown(release);
    await t.rejects(
      withClient(lab.target('green', 'pgshift'), (c) => c.query('SELECT 1')),
      /remaining connection slots are reserved|too many clients/,
      'the condition is real: a new login as pgshift is refused',
    );
    t.same((await held[0]!.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }], 'and an open session still answers');

    const { round, rounds } = await greenBreach(watch, mark);
    t.ok(rounds <= BREACH_BOUND_ROUNDS, `breached ${rounds} sample rounds after the slots were taken (bound ${BREACH_BOUND_ROUNDS}, as for a dead green)`);
    const green = find(round, 'probe.error_rate:green');
    t.match(green.measurement?.detail, { connect: { failed: Number }, lastError: /new connection: .*(remaining connection slots are reserved|too many clients)/ });
    const status = await waitFor('every new connection in the window to have failed', () => {
      const s = signals.current().find((x) => x.name === 'probe.error_rate' && x.side === 'green');
      return s?.state === 'breached' && s.value === 1 ? s : undefined;
    });
    t.match(status, { reverts: true, limit: 0.05 });
    t.match(status.summary, /^probe\.error_rate:green 100 % > limit 5 % for \d+ samples \(new connection: /);
    const detail = find(signals.latest(), 'probe.error_rate:green').measurement?.detail as { session: { probes: number; failed: number }; connect: { failed: number } };
    t.ok(detail.session.probes > 0, 'the kept session kept probing');
    t.equal(detail.session.failed, 0, "the kept session's queries still succeed");
    t.ok(detail.connect.failed > 0);
    t.equal(find(signals.latest(), 'probe.p95_ms:green').assessment.status, 'healthy', 'latency of the kept session is fine: the error rate is what catches it');
    t.equal(find(signals.latest(), 'probe.error_rate:blue').assessment.status, 'healthy', 'blue is not blamed');

    exposed.green = false;
    const dark = signals.current().find((x) => x.name === 'probe.error_rate' && x.side === 'green')!;
    t.match(dark, { state: 'breached', reverts: false }, 'while green takes no traffic it blocks advancing but does not revert');
    t.match(dark.summary, /blocks advancing, no revert: green takes no application traffic/);
    exposed.green = true;

    await release();
    await healthyProbes(signals);
    t.pass('green accepts new connections again');
    watch.stop();
    await signals.stop();
  });

  await t.test("a green whose postmaster hangs (accepts nothing) breaches within the same bound; old sessions still answer", async (t) => {
    const signals = makeSignals();
    const watch = collectRounds(signals);
    signals.start();
    await healthyProbes(signals);
    const kept = new pg.Client(clientConfig(lab.target('green', 'admin')));
    kept.on('error', () => {});
    await kept.connect();
    t.teardown(() => kept.end().catch(() => {}));

    // A stopped postmaster forks no backend: the kernel still completes the TCP handshake
    // (listen backlog), then the startup packet is never answered. Existing backends are
    // processes of their own and keep answering.
    const mark = watch.rounds.length;
    const resume = await freezePostmaster(t, lab, 'green');

    const { round, rounds } = await greenBreach(watch, mark);
    t.ok(rounds <= BREACH_BOUND_ROUNDS, `breached ${rounds} sample rounds after the postmaster stopped (bound ${BREACH_BOUND_ROUNDS})`);
    t.match(find(round, 'probe.error_rate:green').measurement?.detail, { lastError: /new connection: .*(within \d+ ms|timeout)/i });
    t.same((await kept.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }], 'an old session still answers');
    const status = signals.current().find((x) => x.name === 'probe.error_rate' && x.side === 'green');
    t.match(status, { state: 'breached', reverts: true });
    const detail = find(signals.latest(), 'probe.error_rate:green').measurement?.detail as { session: { failed: number } };
    t.equal(detail.session.failed, 0, "the kept session's queries still succeed");

    resume();
    await healthyProbes(signals);
    t.pass('green accepts connections again');
    watch.stop();
    await signals.stop();
  });

  await t.test('relative latency: slow on both sides stays healthy; slow on green only breaches against blue and reverts', async (t) => {
    const proxies = { blue: await DelayProxy.start(lab.servers.blue.port), green: await DelayProxy.start(lab.servers.green.port) };
    t.teardown(() => Promise.all([proxies.blue.stop(), proxies.green.stop()]));
    const through = (side: Side) => {
      const target = lab.target(side, 'pgshift');
      return { ...target, endpoint: { host: '127.0.0.1', port: proxies[side].port } };
    };
    // The lab's relative rule (config/local.yaml): green over blue x 2 + 100 ms, under a ceiling.
    const config = signalsConfig({
      probe: { ...PROBE, timeoutMs: 2_000, maxP95Ms: 1_500, relativeP95: { factor: 2, marginMs: 100 } },
    });
    const prober = new Prober({
      endpoints: () => (['blue', 'green'] as const).map((side) => ({ side, role: 'writer' as const, target: through(side) })),
      intervalMs: config.probe.intervalMs,
      timeoutMs: config.probe.timeoutMs,
      windowMs: config.probe.windowSeconds * 1000,
      log,
    });
    const signals = new PairSignals({
      pairId: 'demo',
      providers: [...probeSignals(prober, 'blue'), ...probeSignals(prober, 'green')],
      config,
      appMetrics: null,
      exposed: (side) => exposed[side],
      log,
      resources: [{ start: () => prober.start(), close: () => prober.stop() }],
    });
    t.teardown(() => signals.stop());
    const watch = collectRounds(signals);
    signals.start();
    const p95 = (r: SampleRound | SignalSnapshot[], side: Side) => find(r, `probe.p95_ms:${side}`);
    await waitFor('both sides to answer', () => (['blue', 'green'] as const).every((side) => p95(signals.latest(), side).assessment.status === 'healthy'), 20_000);

    // Both sides 200 ms further away: a busy machine, or a slow network for everyone.
    proxies.blue.delayMs = 200;
    proxies.green.delayMs = 200;
    let mark = watch.rounds.length;
    const slowRound = (r: SampleRound) => (['blue', 'green'] as const).every((side) => (p95(r, side).measurement?.value ?? 0) >= 200);
    await waitFor('both windows to hold only slow probes', () => watch.rounds.slice(mark).some(slowRound), 20_000);
    const firstSlow = watch.rounds.findIndex((r, i) => i >= mark && slowRound(r));
    await watch.until(firstSlow, CONSECUTIVE_BREACHES + 3);
    const slow = watch.rounds.slice(firstSlow);
    t.ok(
      slow.every((r) => p95(r, 'green').assessment.status !== 'breached'),
      `green is never breached while both are slow: ${slow.map((r) => `${p95(r, 'green').measurement?.value}/${p95(r, 'blue').measurement?.value} ms`)}`,
    );
    const both = p95(signals.latest(), 'green');
    t.equal(both.assessment.status, 'healthy', both.assessment.reason);
    t.match(both.assessment.reason, /<= limit [\d.]+ ms \(blue [\d.]+ ms × 2 \+ 100 ms\)/);
    // The same real window held to a tight absolute limit alone breaches: blue as the control is what keeps it healthy.
    const absoluteOnly = { ...both.limit, max: 150, relative: undefined };
    const alone = assessSignal(signals.history('probe.p95_ms:green', 8)!, absoluteOnly, Date.now(), { side: 'green', greenExposed: true });
    t.equal(alone.status, 'breached', `an absolute 150 ms limit alone would revert: ${alone.reason}`);

    // Only green is slow now.
    proxies.blue.delayMs = 0;
    mark = watch.rounds.length;
    const breach = await waitFor('green latency to breach against blue', () =>
      watch.rounds.slice(mark).find((r) => p95(r, 'green').assessment.status === 'breached'),
      20_000,
    );
    const green = p95(breach, 'green');
    t.ok(green.measurement!.value! >= 200 && green.measurement!.value! <= 1_500, `green ${green.measurement?.value} ms is under the absolute ceiling`);
    t.equal(green.assessment.reverts, true);
    t.match(green.assessment.reason, /^[\d.]+ ms > limit [\d.]+ ms \(blue [\d.]+ ms × 2 \+ 100 ms\) for \d+ samples$/);
    t.equal(p95(breach, 'blue').assessment.status, 'healthy', 'blue is the control, held to the absolute limit');
    const status = signals.current().find((s) => s.name === 'probe.p95_ms' && s.side === 'green');
    t.match(status, { state: 'breached', reverts: true, unit: 'ms' });
    t.ok(status!.limit! < 1_500, `the status names the limit green was held to: ${status!.limit} ms`);

    // Blue has no reading: green falls back to the absolute limit, and says so.
    proxies.blue.refuse(true);
    const fallback = await waitFor('green to be held to the absolute limit', () => {
      const g = p95(signals.latest(), 'green');
      return g.assessment.control === null && g.assessment.status === 'healthy' ? g : undefined;
    }, 20_000);
    t.match(fallback.assessment.reason, /<= limit 1500 ms \(absolute: blue has no reading to compare with\)/);
    watch.stop();
  });
});
