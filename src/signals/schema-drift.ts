import * as D from '../defaults.js';
import { systemClock, type Clock } from '../clock.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from '../replication/pool-set.js';
import type { Direction } from '../replication/port.js';
import { compareSchemas, describeDifferences, readSchemaFingerprint, type SchemaDifference } from '../replication/schema-fingerprint.js';
import type { Side } from '../shift/model.js';
import { measureSafely, SIGNAL_NAMES, signalId, type Measurement, type SignalProvider } from './port.js';

/** Both sides' schemas of every database compared; the differences, each named with its database when the pair has several. */
export async function readSchemaDifferences(
  pools: PoolSet,
  target: (side: Side, database: string) => ConnectTarget,
  databases: readonly string[],
): Promise<{ database: string; differences: SchemaDifference[] }[]> {
  return Promise.all(
    databases.map(async (database) => {
      const read = (side: Side) => readSchemaFingerprint((sql, params) => pools.query(target(side, database), sql, params));
      const [blue, green] = await Promise.all([read('blue'), read('green')]);
      return { database, differences: compareSchemas(blue, green) };
    }),
  );
}

/**
 * What differs, as the cause of broken replication names it ("schema drift: column
 * public.orders.note text: on blue, missing on green"); null when nothing differs or the
 * schemas cannot be read now (the problems are reported either way). The schemas are
 * read when problems appear or change, not at every sample while they last, and waited
 * for at most DRIFT_CAUSE_WAIT_MS.
 */
export function driftCause(pools: PoolSet, target: (side: Side, database: string) => ConnectTarget, databases: readonly string[]): (problems: readonly string[]) => Promise<string | null> {
  let last: { problems: string; cause: Promise<string | null> } | null = null;
  return (problems) => {
    if (problems.length === 0) {
      last = null;
      return Promise.resolve(null);
    }
    const key = problems.join('\n');
    if (last?.problems !== key) {
      const cause = readSchemaDifferences(pools, target, databases).then(
        (perDatabase) => {
          const differences = perDatabase.flatMap((db) => db.differences);
          return differences.length > 0 ? `schema drift: ${describeDifferences(differences)}` : null;
        },
        () => null,
      );
      last = { problems: key, cause };
    }
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), D.DRIFT_CAUSE_WAIT_MS)));
    return Promise.race([last.cause, late]).finally(() => clearTimeout(timer));
  };
}

/**
 * Schema drift: the number of objects that differ between blue and green. It reads
 * the catalogs of both sides, so it reads them every `intervalMs` (slower than the
 * other signals) and hands out that reading in between, with the time it was taken:
 * an old reading grows stale like any other. No replication at the stage (before
 * prepare, after finalize): nothing to compare.
 */
export function schemaDriftSignal(
  pools: PoolSet,
  target: (side: Side, database: string) => ConnectTarget,
  databases: readonly string[],
  direction: () => Direction | null,
  intervalMs: number,
  clock: Clock = systemClock,
): SignalProvider {
  let last: Measurement | null = null;
  return {
    id: signalId(SIGNAL_NAMES.schemaDrift, null),
    name: SIGNAL_NAMES.schemaDrift,
    side: null,
    expire() {
      last = null;
    },
    async measure() {
      const d = direction();
      if (!d) {
        last = null;
        return { value: null, at: clock.now(), error: 'no replication runs at this stage', notApplicable: true };
      }
      if (last && clock.now() - last.at < intervalMs) return last;
      last = await measureSafely(
        () => clock.now(),
        async () => {
          const perDatabase = await readSchemaDifferences(pools, target, databases);
          const several = databases.length > 1;
          const problems = perDatabase.flatMap((db) => db.differences.map((d) => (several ? `${db.database}: ${d.message}` : d.message)));
          return {
            value: problems.length,
            detail: { problems, databases: perDatabase.map((db) => ({ database: db.database, differences: db.differences })) },
          };
        },
      );
      return last;
    },
  };
}
