import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import Value from 'typebox/value';
import YAML from 'yaml';
import { resolveConfig, type ConfigError } from '../../src/config/load.js';
import { SignalsSchema, type SignalsConfig } from '../../src/config/schema.js';
import { assessSignal } from '../../src/signals/assess.js';
import * as D from '../../src/defaults.js';
import { limitFor } from '../../src/signals/limits.js';
import { SIGNAL_NAMES } from '../../src/signals/port.js';
import { summarizeProbes, type ProbeResult } from '../../src/signals/probe.js';
import { MINIMAL_ENV, minimalConfigYaml } from '../helpers/config.js';

function signalsOf(yaml: string) {
  return resolveConfig(YAML.parse(minimalConfigYaml({ pairExtra: yaml })), MINIMAL_ENV).pairs[0]!.signals;
}

function problemsOf(yaml: string): string[] {
  try {
    signalsOf(yaml);
  } catch (err) {
    return (err as ConfigError).problems;
  }
  return [];
}

t.test('relative limits are absent unless configured; absolute limits keep their defaults', async (t) => {
  const signals = signalsOf('');
  t.equal(signals.probe.relativeP95, undefined);
  t.equal(signals.probe.connectEveryRounds, D.DEFAULT_PROBE_CONNECT_EVERY_ROUNDS);
  const p95 = limitFor(SIGNAL_NAMES.probeP95Ms, signals);
  t.same({ max: p95.max, relative: p95.relative, unit: p95.unit }, { max: D.DEFAULT_MAX_PROBE_P95_MS, relative: undefined, unit: 'ms' });
});

t.test('relative limits from the config, with the margin in the unit of the signal', async (t) => {
  const signals = signalsOf(`    signals:
      probe:
        maxP95Ms: 800
        relativeP95: { factor: 3, marginMs: 100 }
        relativeErrorRate: {}
      dbErrors:
        relativeErrorRate: { factor: 1.5, margin: 0.1 }
`);
  t.match(limitFor(SIGNAL_NAMES.probeP95Ms, signals), { max: 800, relative: { factor: 3, margin: 100 }, unit: 'ms' });
  t.match(
    limitFor(SIGNAL_NAMES.probeErrorRate, signals),
    { max: D.DEFAULT_MAX_PROBE_ERROR_RATE, relative: { factor: D.DEFAULT_RELATIVE_FACTOR, margin: D.DEFAULT_RELATIVE_ERROR_RATE_MARGIN } },
    'an empty relative section takes the named defaults',
  );
  t.match(limitFor(SIGNAL_NAMES.dbErrorRate, signals), { max: D.DEFAULT_MAX_DB_ERROR_RATE, relative: { factor: 1.5, margin: 0.1 } });
  t.equal(limitFor(SIGNAL_NAMES.lagSeconds, signals).relative, undefined, 'lag has no control to compare with');
});

t.test('bad relative limits are refused, naming the key', async (t) => {
  t.same(problemsOf('    signals: { probe: { relativeP95: { factor: 0.5 } } }\n'), ['pairs[0].signals.probe.relativeP95.factor: must be >= 1']);
  t.same(problemsOf('    signals: { probe: { relativeP95: { margin: 50 } } }\n'), ['pairs[0].signals.probe.relativeP95.margin: unknown key']);
  t.same(problemsOf('    signals: { dbErrors: { relativeErrorRate: { margin: 2 } } }\n'), ['pairs[0].signals.dbErrors.relativeErrorRate.margin: must be <= 1']);
  t.same(problemsOf('    signals: { probe: { connectEveryRounds: 0 } }\n'), ['pairs[0].signals.probe.connectEveryRounds: must be >= 1']);
});

t.test("the lab's config holds green's latency against blue, so a busy machine slows both sides without a breach", async (t) => {
  const doc = YAML.parse(await readFile(join(import.meta.dirname, '..', '..', 'config', 'local.yaml'), 'utf8')) as { pairs: { signals: unknown }[] };
  const signals = Value.Default(SignalsSchema, structuredClone(doc.pairs[0]!.signals)) as SignalsConfig;
  t.ok(Value.Check(SignalsSchema, signals), 'valid');
  const p95 = limitFor(SIGNAL_NAMES.probeP95Ms, signals);
  t.ok(p95.relative, 'relative to blue');
  const exposure = { side: 'green' as const, greenExposed: true };
  const rounds = (green: number, blue: number) =>
    Array.from({ length: signals.consecutiveBreaches + 1 }, (_, i) => ({ value: green, control: blue, at: 1_000 * i }));
  const now = 1_000 * signals.consecutiveBreaches;
  // The measurement: 378 ms on both sides while the test suite ran.
  t.equal(assessSignal(rounds(378, 378), p95, now, exposure).status, 'healthy', 'the busy machine of the issue');
  t.equal(assessSignal(rounds(400, 20), p95, now, exposure).status, 'breached', 'a green slow only by comparison');
});

/** Probe results one second apart; `s`/`S` a kept-session probe ok/failed, `c`/`C` a fresh connection ok/failed. */
function results(spec: string, ms = (i: number) => 10 + i): ProbeResult[] {
  return [...spec].map((ch, i) => ({
    kind: ch.toLowerCase() === 's' ? 'session' : 'connect',
    at: 1_000 * i,
    ok: ch === ch.toLowerCase(),
    ms: ms(i),
    ...(ch === ch.toLowerCase() ? {} : { error: ch === 'C' ? 'new connection: sorry, too many clients already' : 'no answer within 1000 ms' }),
  }));
}

t.test('the probe error rate is the worse of its two kinds: refusing new connections reads like a dead side', async (t) => {
  const dead = summarizeProbes(results('SCSCSCSC'));
  t.equal(dead.errorRate, 1);
  const refusing = summarizeProbes(results('sCsCsCsC'));
  t.equal(refusing.errorRate, 1, 'every new connection fails: 100 %, not 50 %');
  t.match(refusing, { session: { probes: 4, failed: 0, errorRate: 0 }, connect: { probes: 4, failed: 4, errorRate: 1 } });
  t.match(refusing.lastError, /too many clients/);
  t.equal(summarizeProbes(results('sCscscsc')).errorRate, 0.25, 'one failed connection of four');
  t.equal(summarizeProbes(results('Scscscsc')).errorRate, 0.25, 'one failed query of four');
  t.equal(summarizeProbes(results('ssss')).errorRate, 0, 'no fresh connection in the window yet: the sessions alone');
  t.equal(summarizeProbes([]).errorRate, null, 'nothing finished: no value');
});

t.test('a window still filling counts its failures against the probes a full window holds', async (t) => {
  const full = { session: 40, connect: 40 };
  const started = summarizeProbes(results('scscscscscsCscscscscscsc'), full);
  t.equal(started.errorRate, 1 / 40, 'one slow connection among the first dozen: 2.5 %, not 8.3 %');
  t.equal(summarizeProbes(results('SCSCSC'), full).errorRate, 3 / 40, 'a dead side still counts every failure');
  t.equal(summarizeProbes(results('sC'.repeat(40)), full).errorRate, 1, 'a full window of failures reads 100 %');
});

t.test('the probe p95 is of the kept-session queries; connecting is reported beside it', async (t) => {
  // Sessions answer in 1..20 ms; connections take 100+ ms (TLS and SCRAM).
  const mixed = [...results('s'.repeat(20), (i) => i + 1), ...results('c'.repeat(20), (i) => 100 + i)];
  const s = summarizeProbes(mixed);
  t.equal(s.p95Ms, 19);
  t.equal(s.connect.p95Ms, 118);
  t.equal(summarizeProbes(results('SSSccc')).p95Ms, null, 'no successful query: no latency reading');
});
