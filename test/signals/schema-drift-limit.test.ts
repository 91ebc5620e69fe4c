import t from 'tap';
import Value from 'typebox/value';
import { SignalsSchema, type SignalsConfig } from '../../src/config/schema.js';
import * as D from '../../src/defaults.js';
import { assessSignal } from '../../src/signals/assess.js';
import { limitFor } from '../../src/signals/limits.js';
import { SIGNAL_NAMES } from '../../src/signals/port.js';

const config = Value.Default(SignalsSchema, {}) as SignalsConfig;
const limit = limitFor(SIGNAL_NAMES.schemaDrift, config);
const at = 1_000_000;
const exposed = { side: null, greenExposed: true };

t.test('no difference is healthy; the first difference breaches at once', async (t) => {
  t.equal(assessSignal([{ value: 0, at }], limit, at, exposed).status, 'healthy');
  const one = assessSignal([{ value: 1, at }], limit, at, exposed);
  t.equal(one.status, 'breached');
});

t.test('a breach blocks advancing and never reverts, even with green taking reads', async (t) => {
  const breach = assessSignal([{ value: 3, at }], limit, at, exposed);
  t.equal(breach.reverts, false);
  t.match(breach.reason, /no revert: repair green/);
});

t.test('its reading grows stale by its own interval, not the sample interval', async (t) => {
  const age = D.DEFAULT_SCHEMA_DRIFT_SAMPLE_SECONDS * 1000 * D.SIGNAL_STALE_INTERVALS;
  t.equal(assessSignal([{ value: 0, at }], limit, at + age, exposed).status, 'healthy', 'at the limit');
  t.equal(assessSignal([{ value: 0, at }], limit, at + age + 1, exposed).status, 'unknown', 'past it');
});
