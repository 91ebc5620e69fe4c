import * as D from '../../defaults.js';
import { describeError, PgshiftError } from '../../errors.js';
import { ident, withClient } from '../../postgres/connect.js';
import type { RehearsalLoad, WriteLedger, WriteLoadOptions, WriteLoadResult } from '../../rehearsal/load.js';
import { SIDES } from '../../shift/model.js';
import type { Lab } from '../lab.js';
import { storeRecordSource, type RecordSource } from '../resolver.js';
import type { WorkloadSettings } from './config.js';
import type { WorkloadTopology } from './endpoints.js';
import { Ledger, type Acknowledged } from './ledger.js';
import { verifyLedger } from './verify.js';
import { DemoWorkload } from './workload.js';

export interface DemoAppLoadOptions {
  /** Where the application's DNS answers come from: the Route 53 stand-in's records, as for the lab's own names. */
  records: RecordSource;
  /** The application's settings (the lab's `lab.workload`); the rehearsal's rate replaces `rate`, and it never pushes. */
  settings: WorkloadSettings;
}

/**
 * The lab's demo application as a rehearsal's write load: a second instance of the shop,
 * pointed at the staging pair's names. Each simulated client resolves the staging reader
 * and writer names through its own TTL-honouring cache, so the load follows the staging
 * records through the read stages, the cutover and the way back as a fleet would. It logs
 * in as the rehearsal's load login, made a member of the shop's role on both staging
 * sides so it has the shop's privileges (and stays an application role the freeze stops).
 * Its ledger is kept in memory and checked at the end against the side taking writes
 * then (staging blue after the way back): every acknowledged write must be there.
 */
export function demoAppLoad(options: DemoAppLoadOptions): RehearsalLoad {
  return {
    async prepare(admin, login) {
      // Role membership is the cluster's, not the database's: the preparation copies roles and grants on objects, not memberships.
      for (const side of SIDES) await withClient(admin(side), (c) => c.query(`GRANT ${ident(D.LAB_APP_ROLE)} TO ${ident(login.user)}`));
    },
    start(load) {
      let firstError: string | undefined;
      const ledger = new Ledger(null);
      const startedAt = load.clock.now();
      const workload = new DemoWorkload({
        topology: stagingTopology(load, options.records),
        settings: { ...options.settings, rate: load.ratePerSecond, push: false, statsPort: 0 },
        ledger,
        log: load.log.child({ load: 'demo-app' }),
        pushTo: null,
        clock: load.clock,
        onWriteFailed: (_kind, err) => {
          if (firstError !== undefined) return;
          firstError = describeError(err);
          load.log.info({ err: firstError }, 'rehearsal load (demo application): first refused write');
        },
      });
      const starting = workload.start().catch((err: unknown) => {
        firstError ??= `the demo application did not start: ${describeError(err)}`;
      });
      return {
        acknowledged: () => ledger.acknowledged.size,
        async stop() {
          await starting;
          await workload.stop();
          const acks = [...ledger.acknowledged.values()].sort((a, b) => a.at - b.at);
          const totals = workload.stats.snapshot().totals.failedWrites;
          const result: WriteLoadResult = {
            kind: 'demo-app',
            ratePerSecond: load.ratePerSecond,
            writes: acks.length,
            errors: totals.blue + totals.green + totals.unknown,
            longestGapMs: longestGap(startedAt, acks),
            ...(firstError === undefined ? {} : { firstError }),
            ledger: await checkLedger(ledger, load, acks),
          };
          return result;
        },
      };
    },
  };
}

/** The demo application's load on a lab running in this process (`npm start`): DNS answers from the Route 53 stand-in's store. */
export function labDemoAppLoad(lab: Lab, settings: WorkloadSettings): RehearsalLoad {
  const route53 = lab.route53;
  if (!route53) throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_NO_ROUTE53', 'the lab has no Route 53 stand-in running');
  return demoAppLoad({ records: storeRecordSource(route53.standIn.store, route53.zoneId), settings });
}

/**
 * The staging pair as the application sees it: the staging names, the staging clusters'
 * endpoints as the rehearsal dials them, and a server's side known by the port it
 * listens on (each lab server has its own).
 */
function stagingTopology(load: WriteLoadOptions, records: RecordSource): WorkloadTopology {
  return {
    names: load.names,
    records,
    address: (endpoint) => {
      const found = load.endpoint(endpoint);
      return found ? { host: found.host, port: found.port } : null;
    },
    sideOfServer: (port) => SIDES.find((side) => load.target(side).endpoint.port === port) ?? null,
    sideOfEndpoint: (endpoint) => load.endpoint(endpoint)?.side ?? null,
    database: load.database,
    login: load.login,
  };
}

/** The longest time between two acknowledged writes, the load's start counting as the first (as insertLoad counts). */
function longestGap(startedAt: number, acks: Acknowledged[]): number {
  let longest = 0;
  let last = startedAt;
  for (const ack of acks) {
    longest = Math.max(longest, ack.at - last);
    last = ack.at;
  }
  return longest;
}

/** The ledger checked on the side taking writes now (staging blue after the way back), as the load's login. Never throws. */
async function checkLedger(ledger: Ledger, load: WriteLoadOptions, acks: Acknowledged[]): Promise<WriteLedger> {
  const runs: WriteLedger['runs'] = [];
  for (const ack of acks) {
    const side = ack.side ?? 'unknown';
    const last = runs.at(-1);
    if (last?.side === side) last.writes += 1;
    else runs.push({ side, writes: 1 });
  }
  const counts = { acknowledged: ledger.acknowledged.size, inDoubt: ledger.inDoubt.size, failed: ledger.failed.size, runs };
  const none = { missing: 0, duplicated: 0, phantom: 0, sequenceReuse: 0, inDoubtPresent: 0, differences: [] };
  let side: ReturnType<WriteLoadOptions['writer']> | null = null;
  try {
    side = load.writer();
    const { endpoint } = load.target(side);
    const checked = await verifyLedger(ledger, { host: endpoint.host, port: endpoint.port, database: load.database, login: load.login });
    return {
      ...counts,
      checkedOn: side,
      missing: checked.missing,
      duplicated: checked.duplicated,
      phantom: checked.phantom,
      sequenceReuse: checked.sequenceReuse,
      inDoubtPresent: checked.inDoubtPresent,
      differences: [
        ...checked.differences.map((d) => `${d.kind} ${d.id}: ${d.problem}`),
        ...checked.sequenceValues.map((v) => `${v.sequence} ${v.value}: ${v.problem}`),
      ],
    };
  } catch (err) {
    load.log.warn({ err: describeError(err), side }, 'rehearsal load (demo application): ledger not checked');
    return { ...counts, checkedOn: null, checkError: describeError(err), ...none };
  }
}
