import { systemClock, type Clock } from '../clock.js';
import type { Direction, LagReading, Replication } from '../replication/port.js';
import { measureSafely, SIGNAL_NAMES, signalId, type Measurement, type SignalProvider } from './port.js';

/**
 * Lag (seconds and bytes, from one reading per sample) and replication health of
 * whichever direction runs at the pair's stage. `direction()` returns null when no
 * replication runs (finalized): then the signals have no value.
 */
export function replicationSignals(
  replication: Replication,
  direction: () => Direction | null,
  clock: Clock = systemClock,
  sharedForMs = 250,
  /** Told every reading's problems, to name their likely cause (schema drift); null when there is none or none is found. Must not throw. */
  causeOfProblems: (problems: readonly string[]) => Promise<string | null> = async () => null,
): SignalProvider[] {
  const lag = shareReading((d: Direction) => replication.lag(d), sharedForMs, clock);
  const noReplication = (): Measurement => ({ value: null, at: clock.now(), error: 'no replication runs at this stage', notApplicable: true });

  const lagSignal = (name: typeof SIGNAL_NAMES.lagSeconds | typeof SIGNAL_NAMES.lagBytes): SignalProvider => ({
    id: signalId(name, null),
    name,
    side: null,
    measure: async () => {
      const d = direction();
      if (!d) return noReplication();
      return measureSafely(
        () => clock.now(),
        async () => {
          const reading = await lag(d);
          const value = name === SIGNAL_NAMES.lagSeconds ? reading.seconds : reading.bytes;
          const errors = reading.databases.flatMap((db) => (db.error ? [`${db.database}: ${db.error}`] : []));
          return {
            value,
            ...(value === null ? { error: errors.join('; ') || 'no value' } : {}),
            detail: { direction: d, databases: reading.databases },
          };
        },
      );
    },
  });

  const health: SignalProvider = {
    id: signalId(SIGNAL_NAMES.health, null),
    name: SIGNAL_NAMES.health,
    side: null,
    measure: async () => {
      const d = direction();
      if (!d) return noReplication();
      return measureSafely(
        () => clock.now(),
        async () => {
          const state = await replication.state(d);
          const cause = await causeOfProblems(state.problems);
          return { value: state.problems.length, detail: { direction: d, problems: state.problems, ...(cause ? { cause } : {}) } };
        },
      );
    },
  };

  return [lagSignal(SIGNAL_NAMES.lagSeconds), lagSignal(SIGNAL_NAMES.lagBytes), health];
}

/**
 * One reading serves every caller within `ttlMs` (and every caller while it is in
 * flight): lag in seconds and in bytes come from the same query, and the lag reading
 * writes a heartbeat, which must happen once per sample, not once per signal.
 */
function shareReading(read: (d: Direction) => Promise<LagReading>, ttlMs: number, clock: Clock) {
  let last: { direction: Direction; at: number; promise: Promise<LagReading> } | null = null;
  return (direction: Direction): Promise<LagReading> => {
    if (last && last.direction === direction && clock.now() - last.at <= ttlMs) return last.promise;
    const promise = read(direction);
    last = { direction, at: clock.now(), promise };
    return promise;
  };
}
