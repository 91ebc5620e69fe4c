import { randomBytes } from 'node:crypto';
import Type from 'typebox';
import type { Clock } from '../clock.js';
import type { Login } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { ident, literal, withClient, type ConnectTarget } from '../postgres/connect.js';
import type { Side } from '../shift/model.js';

export const WriteLoadResultSchema = Type.Object({
  ratePerSecond: Type.Number(),
  writes: Type.Integer(),
  errors: Type.Integer(),
  /** The longest time between two acknowledged writes: the write window as the application sees it. */
  longestGapMs: Type.Number(),
  /** Why the first refused write was refused. */
  firstError: Type.Optional(Type.String()),
});
export type WriteLoadResult = Type.Static<typeof WriteLoadResultSchema>;

export interface WriteLoadOptions {
  /** Where `side`'s copy of the load's database is, reached with the load's login. */
  target(side: Side): ConnectTarget;
  /** The side taking writes now: read before every write, so the load follows the cutover. */
  writer(): Side;
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
  start(options: WriteLoadOptions): WriteLoadHandle;
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
    const result: WriteLoadResult = { ratePerSecond: options.ratePerSecond, writes: 0, errors: 0, longestGapMs: 0 };
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
