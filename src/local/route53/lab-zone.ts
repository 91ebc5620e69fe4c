import { join, resolve } from 'node:path';
import * as D from '../../defaults.js';
import type { Logger } from '../../log.js';
import { LAB_HOSTED_ZONE, labClusterId, labEndpoint, labRecordName } from '../lab-endpoints.js';
import { choosePort, type LabState } from '../lab-state.js';
import type { Change } from './model.js';
import { normaliseName } from './names.js';
import { Route53StandIn } from './server.js';

/** The lab's Route 53: the stand-in, its hosted zone and the demo pair's weighted records. */
export interface LabRoute53 {
  standIn: Route53StandIn;
  zoneId: string;
  /** The `PGSHIFT_LAB_*` variables config/local.yaml reads for Route 53. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * One stand-in per lab folder in a process: a lab started again over the same folder
 * replaces it (and gets its port back) instead of leaving two servers on one zone file.
 */
const byFolder = new Map<string, Route53StandIn>();

/**
 * Starts the stand-in with its zones in `<lab dir>/route53.json` on the port lab.json
 * remembers, creates the lab's hosted zone the first time, and creates the demo pair's
 * records (blue 100 / green 0) when a name has none. Records that exist are left alone:
 * weights an operator or pgshift set survive a restart of the lab. The caller saves
 * `state` (the port may be new).
 */
export async function startLabRoute53(options: { dir: string; state: LabState; log: Logger }): Promise<LabRoute53> {
  const dir = resolve(options.dir);
  await byFolder.get(dir)?.stop();
  byFolder.delete(dir);
  const standIn = await Route53StandIn.start({
    port: await choosePort(options.state, 'route53'),
    file: join(dir, D.LAB_ROUTE53_FILE),
    insyncDelayMs: D.LAB_ROUTE53_INSYNC_DELAY_MS,
    log: options.log,
  });
  try {
    const store = standIn.store;
    const zone =
      store.findHostedZone(LAB_HOSTED_ZONE) ??
      (await store.createHostedZone({
        name: LAB_HOSTED_ZONE,
        callerReference: D.LAB_ROUTE53_CALLER_REFERENCE,
        comment: 'pgshift embedded lab',
      })).zone;

    const existing = new Set(store.recordSets(zone.id).map((r) => r.name));
    const changes: Change[] = [];
    for (const kind of ['reader', 'writer'] as const) {
      const name = labRecordName(kind);
      if (existing.has(normaliseName(name))) continue;
      for (const side of ['blue', 'green'] as const) {
        changes.push({
          action: 'CREATE',
          recordSet: {
            name,
            type: 'CNAME',
            setIdentifier: side,
            weight: side === 'blue' ? 100 - D.INITIAL_GREEN_PERCENT : D.INITIAL_GREEN_PERCENT,
            ttl: D.DEFAULT_RECORD_TTL_SECONDS,
            values: [labEndpoint(labClusterId(side), kind)],
          },
        });
      }
    }
    if (changes.length > 0) {
      await store.changeRecordSets(zone.id, { comment: 'pgshift lab: demo pair records', changes });
      options.log.info({ zoneId: zone.id, records: changes.length }, 'lab Route 53 records created');
    }
    byFolder.set(dir, standIn);
    return {
      standIn,
      zoneId: zone.id,
      env: () => ({
        PGSHIFT_LAB_ROUTE53_ENDPOINT: standIn.url,
        PGSHIFT_LAB_HOSTED_ZONE_ID: zone.id,
      }),
      stop: async () => {
        if (byFolder.get(dir) === standIn) byFolder.delete(dir);
        await standIn.stop();
      },
    };
  } catch (err) {
    await standIn.stop();
    throw err;
  }
}
