import { systemClock, type Clock } from '../clock.js';
import { createRdsClient } from '../clusters/rds-client.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { RehearsalLoad } from '../rehearsal/load.js';
import { RehearsalService } from '../rehearsal/service.js';
import type { RehearsalStore } from '../rehearsal/store.js';
import type { ShiftStore } from '../shift/store.js';
import type { Route53Account } from '../traffic/route53-account.js';

/**
 * The rehearsal service, when some pair's blue is an RDS cluster (a rehearsal restores
 * blue's cluster snapshot): opened, so a crashed rehearsal shows `interrupted` and its
 * staging clusters are swept. Null otherwise: a deployment without RDS is never asked
 * to list clusters. Its close cancels running rehearsals and waits for their teardown.
 */
export async function createRehearsals(
  config: Config,
  deps: {
    store: RehearsalStore;
    events: Pick<ShiftStore, 'recordEvent'>;
    route53Account: Route53Account;
    log: Logger;
    instanceId: string;
    clock?: Clock;
    /** A write load per pair id instead of pgshift's INSERTs (the lab's demo application). */
    loads?: Readonly<Record<string, RehearsalLoad>>;
  },
): Promise<{ service: RehearsalService; close(): Promise<void> } | null> {
  if (!config.pairs.some((p) => p.blue.rdsClusterId !== undefined)) return null;
  const rds = createRdsClient(config.aws);
  const service = new RehearsalService({
    config,
    store: deps.store,
    recordEvent: (event, now) => deps.events.recordEvent(event, now),
    rds,
    route53Account: deps.route53Account,
    log: deps.log.child({ component: 'rehearsals' }),
    clock: deps.clock ?? systemClock,
    instanceId: deps.instanceId,
    ...(deps.loads ? { loads: deps.loads } : {}),
  });
  await service.open();
  return {
    service,
    async close() {
      await service.close();
      rds.destroy();
    },
  };
}
