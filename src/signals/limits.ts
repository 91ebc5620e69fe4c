import type { SignalsConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import type { SignalLimit } from './assess.js';
import { SIGNAL_NAMES, SIGNAL_UNITS, type SignalName } from './port.js';

/**
 * The configured limits per signal. Replication problems breach on the first
 * reading: a broken subscription does not heal by waiting, and every second of it is
 * a second of rows not reaching the other side. Probe latency and the error rates may
 * also be relative to blue (see RelativeLimit); PairSignals pairs green's readings
 * with blue's for those.
 */
export function limitFor(name: SignalName, config: SignalsConfig): SignalLimit {
  const base = {
    unit: SIGNAL_UNITS[name],
    consecutiveBreaches: config.consecutiveBreaches,
    consecutiveErrors: config.consecutiveErrors,
    maxAgeMs: config.sampleSeconds * 1000 * D.SIGNAL_STALE_INTERVALS,
  };
  switch (name) {
    case SIGNAL_NAMES.lagSeconds:
      return { ...base, max: config.lag.maxSeconds };
    case SIGNAL_NAMES.lagBytes:
      return { ...base, max: config.lag.maxBytes };
    case SIGNAL_NAMES.health:
      return { ...base, max: 0, consecutiveBreaches: 1 };
    case SIGNAL_NAMES.probeErrorRate: {
      const relative = config.probe.relativeErrorRate;
      return { ...base, max: config.probe.maxErrorRate, ...(relative ? { relative: { factor: relative.factor, margin: relative.margin } } : {}) };
    }
    case SIGNAL_NAMES.probeP95Ms: {
      const relative = config.probe.relativeP95;
      return { ...base, max: config.probe.maxP95Ms, ...(relative ? { relative: { factor: relative.factor, margin: relative.marginMs } } : {}) };
    }
    case SIGNAL_NAMES.dbErrorRate: {
      const relative = config.dbErrors.relativeErrorRate;
      return { ...base, max: config.dbErrors.maxErrorRate, ...(relative ? { relative: { factor: relative.factor, margin: relative.margin } } : {}) };
    }
    case SIGNAL_NAMES.appErrorRate:
      return { ...base, max: config.app.maxErrorRate };
    case SIGNAL_NAMES.schemaDrift:
      // A difference alone breaks nothing yet (replication breaking on it reverts through
      // replication.problems); it must be repaired before the pair moves on.
      return {
        ...base,
        max: 0,
        consecutiveBreaches: 1,
        maxAgeMs: config.schemaDrift.sampleSeconds * 1000 * D.SIGNAL_STALE_INTERVALS,
        neverReverts: 'blocks advancing and the cutover, no revert: repair green (POST /api/v1/pairs/:pair/schema/sync)',
      };
  }
}
