import t from 'tap';
import Value from 'typebox/value';
import { SignalsSchema, type SignalsConfig } from '../../src/config/schema.js';
import { PairSignals } from '../../src/signals/pair-signals.js';
import { SIGNAL_NAMES, type Measurement, type SignalProvider } from '../../src/signals/port.js';
import { testLogger } from '../helpers/lab.js';

/**
 * A breach that reverts is told as soon as its reading lands: another signal's slow
 * reading (a side that hangs, a loaded server) must not hold the revert up.
 */
t.test('a reverting reading is told before the slow rest of its round', async (t) => {
  const config = Value.Default(SignalsSchema, { sampleSeconds: 1, consecutiveBreaches: 1 }) as SignalsConfig;
  let finishSlow!: (m: Measurement) => void;
  const slow: SignalProvider = {
    id: 'db.error_rate:green',
    name: SIGNAL_NAMES.dbErrorRate,
    side: 'green',
    measure: () => new Promise((resolve) => (finishSlow = resolve)),
  };
  const breaching: SignalProvider = {
    id: SIGNAL_NAMES.appErrorRate,
    name: SIGNAL_NAMES.appErrorRate,
    side: null,
    measure: async () => ({ value: 0.9, at: Date.now() }),
  };
  const signals = new PairSignals({ pairId: 'demo', providers: [slow, breaching], config, appMetrics: null, exposed: () => true, log: testLogger() });
  let told = 0;
  let rounds = 0;
  signals.onBreach(() => (told += 1));
  signals.onSample(() => (rounds += 1));

  const round = signals.sampleOnce();
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(told, 1, 'the breach is told while the slow reading is still out');
  t.equal(rounds, 0, 'the round has not ended');
  t.match(signals.current().find((s) => s.name === SIGNAL_NAMES.appErrorRate), { state: 'breached', reverts: true });
  finishSlow({ value: 0, at: Date.now() });
  await round;
  t.equal(rounds, 1);
  t.equal(told, 1, 'told once per reading');
});
