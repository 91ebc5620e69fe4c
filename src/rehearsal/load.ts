import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import type { Clock } from '../clock.js';
import type { Login } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, literal, withClient, type ConnectTarget } from '../postgres/connect.js';
import { SIDES, type Side } from '../shift/model.js';
import type { RecordTargets } from '../traffic/router.js';
import type { RehearsalFinding } from './finding.js';

/**
 * The demo application's ledger of its writes, checked after the way back against the
 * side taking writes then (staging blue): every acknowledged write must be there.
 */
export const WriteLedgerSchema = Type.Object({
  /** Writes whose COMMIT returned. */
  acknowledged: Type.Integer(),
  /** Writes whose fate the application could not know (the connection went during COMMIT); allowed, at most once each. */
  inDoubt: Type.Integer(),
  /** Writes the application was told failed. */
  failed: Type.Integer(),
  /** The acknowledged writes in the order acknowledged, as runs on one side: blue, green, blue across the cutover and the way back. */
  runs: Type.Array(Type.Object({ side: Type.String(), writes: Type.Integer() })),
  /** The side the ledger was checked on; null when the check could not run (then `checkError` says why and the counts below are 0). */
  checkedOn: Type.Union([Type.String(), Type.Null()]),
  checkError: Type.Optional(Type.String()),
  /** Acknowledged writes not there, or not as acknowledged: lost writes. */
  missing: Type.Integer(),
  /** Writes applied more than once. */
  duplicated: Type.Integer(),
  /** Writes the application was told failed, there anyway. */
  phantom: Type.Integer(),
  /** Sequence values (order ids, invoice numbers) handed out twice. */
  sequenceReuse: Type.Integer(),
  /** In-doubt writes that did land. */
  inDoubtPresent: Type.Integer(),
  /** The first differences, one line each: kind, write id, what is wrong. */
  differences: Type.Array(Type.String()),
});
export type WriteLedger = Type.Static<typeof WriteLedgerSchema>;

export const WriteLoadResultSchema = Type.Object({
  /** Which load ran: pgshift's INSERTs, or the lab's demo application through the staging names. Absent in reports from before it was recorded. */
  kind: Type.Optional(Type.Union([Type.Literal('inserts'), Type.Literal('demo-app')])),
  ratePerSecond: Type.Number(),
  writes: Type.Integer(),
  errors: Type.Integer(),
  /** The longest time between two acknowledged writes: the write window as the application sees it. */
  longestGapMs: Type.Number(),
  /** Why the first refused write was refused. */
  firstError: Type.Optional(Type.String()),
  /** The demo application's write ledger as checked at the end; absent for a load that keeps none. */
  ledger: Type.Optional(WriteLedgerSchema),
});
export type WriteLoadResult = Type.Static<typeof WriteLoadResultSchema>;

export interface WriteLoadOptions {
  /** Where `side`'s copy of the load's database is, reached with the load's login. */
  target(side: Side): ConnectTarget;
  /** The side taking writes now: read before every write, so the load follows the cutover. */
  writer(): Side;
  /** The staging pair's DNS names, for a load that resolves them as applications do. */
  names: { reader: string; writer: string };
  /**
   * Where a value of the staging records (a staging cluster's writer or reader endpoint
   * name) is dialled, and which side it is; null for any other name.
   */
  endpoint(name: string): StagingEndpoint | null;
  /** The load's database and login (the same as in `target`). */
  database: string;
  login: Login;
  ratePerSecond: number;
  clock: Clock;
  log: Logger;
}

/**
 * The write load of a rehearsal's cutover: production and the lab use insertLoad; a lab
 * could hand in its demo application instead. `start` never throws; `stop` ends the
 * load and answers its counts.
 */
export interface RehearsalLoad {
  /**
   * Optional: runs once after staging green is prepared and before `start`, with each
   * staging side's admin login on the load's database, for grants the load needs beyond
   * its own table. Throwing fails the rehearsal (a load that cannot run proves nothing).
   */
  prepare?(admin: (side: Side) => ConnectTarget, login: Login): Promise<void>;
  start(options: WriteLoadOptions): WriteLoadHandle;
}

export interface StagingEndpoint {
  side: Side;
  host: string;
  port: number;
}

/**
 * WriteLoadOptions.endpoint over the staging clusters as the catalog described them: the
 * record values are their endpoint names (recordTargets), dialled as pgshift dials them.
 */
export function stagingEndpoints(
  targets: { recordTargets(): RecordTargets; target(side: Side, database: string, login: 'admin'): ConnectTarget; reader(side: Side, database: string): ConnectTarget },
  database: string,
): (name: string) => StagingEndpoint | null {
  const plain = (name: string) => name.trim().toLowerCase().replace(/\.$/, '');
  return (name) => {
    const wanted = plain(name);
    const hosts = targets.recordTargets();
    for (const side of SIDES) {
      for (const kind of ['writer', 'reader'] as const) {
        if (plain(hosts[kind][side]) !== wanted) continue;
        const { endpoint } = kind === 'writer' ? targets.target(side, database, 'admin') : targets.reader(side, database);
        return { side, host: endpoint.host, port: endpoint.port };
      }
    }
    return null;
  };
}

/**
 * What the report's findings say about a load's result: a blocker when its ledger shows
 * an acknowledged write lost (or applied twice, or a sequence value given twice), a
 * warning when the ledger could not be checked. Nothing for a load without a ledger.
 */
export function writeLoadFindings(result: WriteLoadResult | null): RehearsalFinding[] {
  const ledger = result?.ledger;
  if (!ledger) return [];
  if (ledger.checkedOn === null) {
    return [{ severity: 'warning', source: 'load', message: `the demo application's write ledger (${ledger.acknowledged} acknowledged writes) was not checked: ${ledger.checkError ?? 'no reason recorded'}` }];
  }
  const problems = [
    [ledger.missing, 'acknowledged write(s) missing'],
    [ledger.duplicated, 'write(s) applied more than once'],
    [ledger.phantom, 'write(s) reported failed yet present'],
    [ledger.sequenceReuse, 'sequence value(s) handed out twice'],
  ] as const;
  const found = problems.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  if (found.length === 0) return [];
  const shown = ledger.differences.slice(0, D.REHEARSAL_LEDGER_DIFFERENCES_SHOWN);
  const more = ledger.differences.length - shown.length;
  return [
    {
      severity: 'blocker',
      source: 'load',
      message:
        `the demo application's write ledger on staging ${ledger.checkedOn}, after the cutover and the way back: ${found.join(', ')} (of ${ledger.acknowledged} acknowledged)` +
        (shown.length > 0 ? `: ${shown.join('; ')}${more > 0 ? `; and ${more} more listed in the report` : ''}` : ''),
      remediation: 'find where the cutover lost or repeated these writes before shifting the real pair; the report\'s writeLoad.ledger lists them',
    },
  ];
}

export interface WriteLoadHandle {
  /** Writes acknowledged so far. */
  acknowledged(): number;
  stop(): Promise<WriteLoadResult>;
}

/**
 * Waits until the load has more than `count` writes acknowledged, up to `timeoutMs`;
 * answers whether it got there (a load that cannot write is the report's to show, not a failure).
 */
export async function waitForWrites(load: WriteLoadHandle, count: number, timeoutMs: number, clock: Clock): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  while (load.acknowledged() <= count) {
    if (clock.now() >= deadline) return false;
    await clock.sleep(D.REHEARSAL_LOAD_POLL_MS);
  }
  return true;
}

/** The load's table on staging green (copied there by the preparation) without its grants: given as on blue. */
export async function grantWriteLoad(admin: ConnectTarget): Promise<void> {
  await withClient(admin, async (c) => {
    await c.query(`GRANT INSERT ON public.${ident(LOAD_TABLE)} TO ${ident(LOAD_ROLE)}`);
    await c.query(`GRANT USAGE ON SEQUENCE public.${ident(`${LOAD_TABLE}_id_seq`)} TO ${ident(LOAD_ROLE)}`);
  });
}

/** The load's own table and login on staging: created by pgshift, on staging only. */
export const LOAD_TABLE = 'pgshift_rehearsal_load';
export const LOAD_ROLE = 'pgshift_rehearsal_load';

/**
 * Creates the load's login on both staging sides (the same password, made up now) and
 * its table on staging blue, before the preparation copies blue's schema and rows to
 * green. The login is an ordinary application role, so the cutover's freeze stops it as
 * it stops the application's. Answers the login.
 */
export async function prepareWriteLoad(admin: (side: Side, database: string) => ConnectTarget, database: string): Promise<Login> {
  const login: Login = { user: LOAD_ROLE, password: randomBytes(18).toString('base64url') };
  for (const side of ['blue', 'green'] as const) {
    // Green has no copy of the pair's databases yet: roles are the cluster's, made from its maintenance database.
    await withClient(admin(side, D.MAINTENANCE_DATABASE), async (c) => {
      const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [LOAD_ROLE])).rowCount === 1;
      await c.query(`${exists ? 'ALTER' : 'CREATE'} ROLE ${ident(LOAD_ROLE)} LOGIN PASSWORD ${literal(login.password)}`);
    });
  }
  await withClient(admin('blue', database), (c) =>
    c.query(`CREATE TABLE IF NOT EXISTS public.${ident(LOAD_TABLE)} (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`),
  );
  await grantWriteLoad(admin('blue', database));
  return login;
}

/** One INSERT at a time at the rate asked, each on a fresh connection to the writing side (as a pool after a freeze would have to). */
export const insertLoad: RehearsalLoad = {
  start(options) {
    let stopped = false;
    const result: WriteLoadResult = { kind: 'inserts', ratePerSecond: options.ratePerSecond, writes: 0, errors: 0, longestGapMs: 0 };
    let lastOk = options.clock.now();
    const pause = 1000 / Math.max(options.ratePerSecond, D.REHEARSAL_MIN_WRITE_RATE);
    const loop = (async () => {
      while (!stopped) {
        const started = options.clock.now();
        try {
          await withClient(options.target(options.writer()), (c) => c.query(`INSERT INTO public.${ident(LOAD_TABLE)} DEFAULT VALUES`));
          const now = options.clock.now();
          result.longestGapMs = Math.max(result.longestGapMs, now - lastOk);
          lastOk = now;
          result.writes += 1;
        } catch (err) {
          result.errors += 1;
          if (result.firstError === undefined) {
            result.firstError = describeError(err);
            options.log.info({ err: result.firstError }, 'rehearsal load: first refused write');
          }
        }
        await options.clock.sleep(Math.max(0, pause - (options.clock.now() - started)));
      }
    })();
    return {
      acknowledged: () => result.writes,
      async stop() {
        stopped = true;
        await loop;
        return result;
      },
    };
  },
};
