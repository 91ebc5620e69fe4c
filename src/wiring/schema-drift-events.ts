import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PairSignals } from '../signals/pair-signals.js';
import { SIGNAL_NAMES } from '../signals/port.js';
import type { ShiftStore } from '../shift/store.js';

/**
 * An audit event (and so an event on the stream) when a pair's schema drift appears,
 * changes or clears, written by the leader only so that a standby does not say it
 * twice. Compared by the list of differences, not by each sample: the drift signal
 * hands out one reading for many samples. Returns the function that stops it.
 */
export function recordSchemaDriftEvents(signals: PairSignals, deps: { store: ShiftStore; isLeader: () => Promise<boolean>; actor: string; log: Logger }): () => void {
  let last: string | null = null;
  return signals.onSample((round) => {
    const drift = round.signals.find((s) => s.name === SIGNAL_NAMES.schemaDrift);
    const m = drift?.measurement;
    if (!m || m.value === null) return;
    const problems = ((m.detail as { problems?: unknown } | undefined)?.problems as string[] | undefined) ?? [];
    const key = problems.join('\n');
    if (key === last || (last === null && problems.length === 0)) {
      last = key;
      return;
    }
    const cleared = problems.length === 0;
    last = key;
    void (async () => {
      if (!(await deps.isLeader())) return;
      await deps.store.recordEvent(
        {
          pair: round.pair,
          actor: deps.actor,
          action: cleared ? 'schema-drift-cleared' : 'schema-drift',
          fromStage: null,
          toStage: null,
          outcome: 'info',
          reason: cleared ? "blue's and green's schemas match again" : `schema drift: ${problems.join('; ')}`,
          details: cleared ? null : { problems },
        },
        m.at,
      );
    })().catch((err) => deps.log.warn({ pair: round.pair, err: describeError(err) }, 'cannot record the schema drift event'));
  });
}
