import type { SignalsConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import type { SignalLimit } from './assess.js';
import { SIGNAL_NAMES, type SignalName } from './port.js';

/**
 * The configured limits per signal. Replication problems breach on the first
 * reading: a broken subscription does not heal by waiting, and every second of it is
 * a second of rows not reaching the other side.
 */
export function limitFor(name: SignalName, config: SignalsConfig): SignalLimit {
  const base = {
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
    case SIGNAL_NAMES.probeErrorRate:
      return { ...base, max: config.probe.maxErrorRate };
    case SIGNAL_NAMES.probeP95Ms:
      return { ...base, max: config.probe.maxP95Ms };
    case SIGNAL_NAMES.dbErrorRate:
      return { ...base, max: config.dbErrors.maxErrorRate };
    case SIGNAL_NAMES.appErrorRate:
      return { ...base, max: config.app.maxErrorRate };
  }
}
