import type pg from 'pg';
import * as D from '../defaults.js';
import { finalError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import { conninfo, ident, literal, withClient, type ConnectTarget } from '../postgres/connect.js';
import { dumpSchema, restoreSchema } from './schema-restore.js';

/**
 * Preparing a receiving side (green, or blue for reverse replication): the roles the
 * sending side's objects need, the database, its schema, pgshift's heartbeat table,
 * a publication and a subscription, then waiting for the initial copy. Every step
 * checks what is already there first, so running it again adopts what exists and a
 * crash part-way leaves nothing that blocks the next run.
 */
export interface SideAccess {
  /** Superuser or rds_superuser login for DDL and replication setup. */
  admin: ConnectTarget;
  /** pgshift's own login name; it owns the `pgshift` schema. */
  pgshiftUser: string;
}

export interface SetupOptions {
  from: SideAccess;
  to: SideAccess;
  /** How `to` reaches `from` for CREATE SUBSCRIPTION (may differ from how pgshift does). */
  fromAsSeenByTo: ConnectTarget;
  database: string;
  publication: string;
  subscription: string;
  /** Copy existing rows (forward setup) or not (reverse replication at cutover). */
  copyData: boolean;
  /** Make `to` read-only for applications by database default. */
  readOnlyTo: boolean;
  log: Logger;
  syncTimeoutMs?: number;
  onProgress?: (progress: SyncProgress) => void;
}

export interface SyncProgress {
  database: string;
  tablesTotal: number;
  tablesReady: number;
}

export interface SetupReport {
  rolesCreated: string[];
  rolesWithoutPassword: string[];
  databaseCreated: boolean;
  schemaCopied: boolean;
  publicationCreated: boolean;
  subscriptionCreated: boolean;
  slot: string;
  tables: number;
}

export async function setUpReplication(options: SetupOptions): Promise<SetupReport> {
  const { from, to, database, log } = options;
  const onDb = (side: SideAccess): ConnectTarget => ({ ...side.admin, database });

  const roles = await copyRoles(from.admin, to.admin);
  if (roles.created.length > 0) log.info({ roles: roles.created }, 'roles copied');

  const databaseCreated = await withClient(to.admin, async (toClient) =>
    withClient(onDb(from), async (fromClient) => createDatabaseLike(fromClient, toClient, database)),
  );

  await withClient(onDb(from), (c) => ensurePgshiftTables(c, from.pgshiftUser));
  const schemaCopied = await withClient(onDb(to), (c) => hasUserTables(c)).then(async (has) => {
    if (has) return false;
    await copySchema(onDb(from), onDb(to));
    return true;
  });
  if (schemaCopied) log.info({ database }, 'schema copied');
  await withClient(onDb(to), (c) => ensurePgshiftTables(c, to.pgshiftUser));
  if (options.readOnlyTo) {
    await withClient(onDb(to), (c) =>
      c.query(`ALTER DATABASE ${ident(database)} SET default_transaction_read_only = on`),
    );
  }

  const publicationCreated = await withClient(onDb(from), (c) => ensurePublication(c, options.publication));
  const slot = slotName(options.subscription, database);
  const subscriptionCreated = await ensureSubscription(options, onDb(from), onDb(to), slot);
  if (subscriptionCreated) log.info({ database, subscription: options.subscription, slot }, 'subscription created');

  const tables = await waitForInitialSync(onDb(to), options);
  return {
    rolesCreated: roles.created,
    rolesWithoutPassword: roles.withoutPassword,
    databaseCreated,
    schemaCopied,
    publicationCreated,
    subscriptionCreated,
    slot,
    tables,
  };
}

/** Replication slot names are cluster-wide on the publisher, so they carry the database. */
export function slotName(subscription: string, database: string): string {
  const db = database.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  return `${subscription}_${db}`.slice(0, 63);
}

export interface RoleRow {
  rolname: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  rolvaliduntil: Date | null;
  rolpassword: string | null;
}

/**
 * Creates on `to` every non-system role of `from` that `to` lacks, with its attributes,
 * its password hash when `from` lets us read it (a superuser can; Aurora's master user
 * cannot) and its memberships. Roles are global, so no dump of a database carries them.
 */
export async function copyRoles(
  fromAdmin: ConnectTarget,
  toAdmin: ConnectTarget,
): Promise<{ created: string[]; withoutPassword: string[] }> {
  const created: string[] = [];
  const withoutPassword: string[] = [];
  await withClient(fromAdmin, async (fromClient) => {
    const roles = await readRoles(fromClient);
    const members = await fromClient.query<{ role: string; member: string; admin_option: boolean }>(
      `SELECT r.rolname AS role, m.rolname AS member, am.admin_option
         FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
        WHERE m.rolname !~ '^pg_'`,
    );
    await withClient(toAdmin, async (toClient) => {
      const existing = new Set(
        (await toClient.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname),
      );
      for (const role of roles) {
        if (existing.has(role.rolname) || role.rolsuper) continue;
        const attrs = roleAttributes(role);
        if (role.rolpassword) attrs.push(`PASSWORD ${literal(role.rolpassword)}`);
        else if (role.rolcanlogin) withoutPassword.push(role.rolname);
        await toClient.query(`CREATE ROLE ${ident(role.rolname)} WITH ${attrs.join(' ')}`);
        created.push(role.rolname);
        existing.add(role.rolname);
      }
      for (const m of members.rows) {
        if (!created.includes(m.member) || !existing.has(m.role)) continue;
        await toClient.query(
          `GRANT ${ident(m.role)} TO ${ident(m.member)}${m.admin_option ? ' WITH ADMIN OPTION' : ''}`,
        );
      }
    });
  });
  return { created, withoutPassword };
}

/** CREATE ROLE options for `role`'s attributes (never SUPERUSER, never its password). */
export function roleAttributes(role: RoleRow): string[] {
  const attrs = [
    role.rolinherit ? 'INHERIT' : 'NOINHERIT',
    role.rolcreaterole ? 'CREATEROLE' : 'NOCREATEROLE',
    role.rolcreatedb ? 'CREATEDB' : 'NOCREATEDB',
    role.rolcanlogin ? 'LOGIN' : 'NOLOGIN',
    role.rolreplication ? 'REPLICATION' : 'NOREPLICATION',
    role.rolbypassrls ? 'BYPASSRLS' : 'NOBYPASSRLS',
    `CONNECTION LIMIT ${role.rolconnlimit}`,
  ];
  if (role.rolvaliduntil) attrs.push(`VALID UNTIL ${literal(role.rolvaliduntil.toISOString())}`);
  return attrs;
}

/** The roles copyRoles would create: `from`'s non-system, non-superuser roles that `to` lacks. */
export async function rolesToCopy(fromAdmin: ConnectTarget, toAdmin: ConnectTarget): Promise<string[]> {
  const wanted = await withClient(fromAdmin, async (c) =>
    (await c.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND NOT rolsuper ORDER BY 1`)).rows.map((r) => r.rolname),
  );
  const existing = await withClient(toAdmin, async (c) =>
    new Set((await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles')).rows.map((r) => r.rolname)),
  );
  return wanted.filter((name) => !existing.has(name));
}

async function readRoles(client: pg.Client): Promise<RoleRow[]> {
  const columns = `rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
                   rolbypassrls, rolconnlimit, rolvaliduntil`;
  try {
    const { rows } = await client.query<RoleRow>(
      `SELECT ${columns}, rolpassword FROM pg_authid WHERE rolname !~ '^pg_' ORDER BY rolname`,
    );
    return rows;
  } catch {
    // Not a superuser (e.g. Aurora's master user): attributes only, no password hashes.
    const { rows } = await client.query<RoleRow>(
      `SELECT ${columns}, NULL::text AS rolpassword FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY rolname`,
    );
    return rows;
  }
}

/** Creates `database` on `to` like `from`'s (owner, encoding, collation) unless it exists; true when it created it. */
export async function createDatabaseLike(fromClient: pg.Client, toClient: pg.Client, database: string): Promise<boolean> {
  const exists = await toClient.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
  if (exists.rowCount !== 0) return false;
  await toClient.query(await createDatabaseStatement(fromClient, database, 'like'));
  return true;
}

/**
 * CREATE DATABASE `name` with the encoding and collation of `from`'s current database,
 * and its owner unless `owner` is `current` (the login that runs it: preflight's scratch
 * database, made before blue's roles are on the other side).
 */
export async function createDatabaseStatement(fromClient: pg.Client, name: string, owner: 'like' | 'current'): Promise<string> {
  const { rows } = await fromClient.query<{ owner: string; encoding: string; collate: string; ctype: string }>(
    `SELECT pg_get_userbyid(datdba) AS owner, pg_encoding_to_char(encoding) AS encoding,
            datcollate AS collate, datctype AS ctype
       FROM pg_database WHERE datname = current_database()`,
  );
  const db = rows[0]!;
  return `CREATE DATABASE ${ident(name)}${owner === 'like' ? ` OWNER ${ident(db.owner)}` : ''} TEMPLATE template0
       ENCODING ${literal(db.encoding)} LC_COLLATE ${literal(db.collate)} LC_CTYPE ${literal(db.ctype)}`;
}

/** Whether the database holds a table outside the system schemas and pgshift's own. */
export async function hasUserTables(client: pg.Client): Promise<boolean> {
  const { rows } = await client.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', $1)
        AND n.nspname !~ '^pg_toast'`,
    [D.PGSHIFT_SCHEMA],
  );
  return Number(rows[0]?.n ?? 0) > 0;
}

/**
 * pgshift's heartbeat table, on both sides (every table is in the publication, so a
 * table the subscriber lacks stops its apply at the first row): one row per writer,
 * rewritten every interval; its arrival on the other side measures lag and proves
 * catch-up. (The freeze ledger lives outside the replicated databases: freeze.ts.)
 */
export async function ensurePgshiftTables(client: pg.Client, owner: string): Promise<void> {
  const schema = ident(D.PGSHIFT_SCHEMA);
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema} AUTHORIZATION ${ident(owner)}`);
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${schema}.heartbeat (
       source text PRIMARY KEY,
       token text NOT NULL,
       written_at timestamptz NOT NULL DEFAULT clock_timestamp()
     )`,
  );
  await client.query(`ALTER TABLE ${schema}.heartbeat OWNER TO ${ident(owner)}`);
}

/** Creates the publication FOR ALL TABLES unless it exists; true when it created it. */
export async function ensurePublication(client: pg.Client, publication: string): Promise<boolean> {
  const exists = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if (exists.rowCount !== 0) return false;
  await client.query(`CREATE PUBLICATION ${ident(publication)} FOR ALL TABLES`);
  return true;
}

async function ensureSubscription(
  options: SetupOptions,
  fromDb: ConnectTarget,
  toDb: ConnectTarget,
  slot: string,
): Promise<boolean> {
  const source = conninfo(options.fromAsSeenByTo);
  const existing = await withClient(toDb, (c) =>
    c.query<{ subconninfo: string; subenabled: boolean }>(
      `SELECT subconninfo, subenabled FROM pg_subscription
        WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [options.subscription],
    ),
  );
  const row = existing.rows[0];
  if (row) {
    if (row.subconninfo !== source) {
      // The sending side moved (the lab picked a new port, or an endpoint changed).
      await withClient(toDb, (c) =>
        c.query(`ALTER SUBSCRIPTION ${ident(options.subscription)} CONNECTION ${literal(source)}`),
      );
      options.log.info({ subscription: options.subscription }, 'subscription connection updated');
    }
    if (!row.subenabled) {
      await withClient(toDb, (c) => c.query(`ALTER SUBSCRIPTION ${ident(options.subscription)} ENABLE`));
      options.log.info({ subscription: options.subscription }, 'subscription enabled');
    }
    await refreshIfTablesMissing(options, fromDb, toDb);
    return false;
  }
  await createSubscription(fromDb, toDb, { ...options, source, slot });
  return true;
}

export interface NewSubscription {
  subscription: string;
  publication: string;
  /** conninfo of the publisher as the subscriber reaches it (holds a password: never log it). */
  source: string;
  slot: string;
  copyData: boolean;
}

/** What creating a subscription may be told: an abort (the preparation given up) and where to say what it waits for. */
export interface SlotWait {
  signal?: AbortSignal;
  log?: Logger;
}

/**
 * CREATE SUBSCRIPTION on a slot made first (or left by a crash, unused since: a slot
 * holds every change from its making on, so reusing it loses nothing).
 */
export async function createSubscription(fromDb: ConnectTarget, toDb: ConnectTarget, sub: NewSubscription, wait: SlotWait = {}): Promise<void> {
  await ensureSlot(fromDb, sub.slot, wait);
  await withClient(toDb, (c) =>
    c.query(
      `CREATE SUBSCRIPTION ${ident(sub.subscription)} CONNECTION ${literal(sub.source)}
         PUBLICATION ${ident(sub.publication)}
         WITH (copy_data = ${sub.copyData}, slot_name = ${literal(sub.slot)}, create_slot = false)`,
    ),
  );
}

/**
 * The subscription's logical slot on the publisher, made in pgshift's own session.
 * Making one waits until every transaction open on the publisher has ended, however
 * long that is: no statement timeout, but an abort cancels it, and a wait longer than a
 * few seconds is logged with the transactions it waits for.
 */
async function ensureSlot(fromDb: ConnectTarget, slot: string, wait: SlotWait): Promise<void> {
  await withClient({ ...fromDb, statementTimeoutMs: 0 }, async (client) => {
    const existing = await client.query<{ active: boolean }>('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (existing.rows[0]?.active) {
      // No subscription of this name streams from it (it would have been adopted): someone else does.
      throw finalError('PGSHIFT_ERR_SLOT_IN_USE', `replication slot ${slot} on the publisher is in use by another consumer; pgshift will not take it over`, { slot });
    }
    if (existing.rowCount !== 0) return;
    wait.signal?.throwIfAborted();
    const pid = Number((await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
    const cancel = () => void withClient(fromDb, (c) => c.query('SELECT pg_cancel_backend($1)', [pid])).catch(() => undefined);
    const report = setTimeout(() => void reportSlotWait(fromDb, pid, slot, wait.log), D.SLOT_CREATE_REPORT_MS);
    wait.signal?.addEventListener('abort', cancel, { once: true });
    try {
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
    } catch (err) {
      wait.signal?.throwIfAborted();
      throw err;
    } finally {
      clearTimeout(report);
      wait.signal?.removeEventListener('abort', cancel);
    }
  });
}

async function reportSlotWait(fromDb: ConnectTarget, pid: number, slot: string, log: Logger | undefined): Promise<void> {
  if (!log) return;
  try {
    const { rows } = await withClient(fromDb, (c) =>
      c.query<{ pid: number; seconds: number; user: string | null; application: string | null }>(
        `SELECT pid, round(extract(epoch FROM now() - xact_start))::int AS seconds, usename AS user, application_name AS application
           FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> $1 ORDER BY xact_start LIMIT 5`,
        [pid],
      ),
    );
    log.warn({ slot, transactions: rows }, 'making the replication slot waits for transactions open on the publisher to end');
  } catch {
    // Only a report: the wait goes on either way.
  }
}

/**
 * Tables created on the publisher after the subscription (pgshift's own included) are
 * published but not applied until the subscription is refreshed; new tables get
 * their initial copy then. A refresh fails as a whole when the subscriber lacks one of
 * them (someone created it on the publisher only): then nothing is refreshed, the
 * tables are logged and set-up goes on; the schema drift signal reports them and
 * schema/sync creates them and refreshes.
 */
async function refreshIfTablesMissing(options: SetupOptions, fromDb: ConnectTarget, toDb: ConnectTarget): Promise<void> {
  const publishedNames = await withClient(fromDb, (c) =>
    c.query<{ name: string }>(`SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_publication_tables WHERE pubname = $1`, [options.publication]),
  );
  const present = await withClient(toDb, (c) =>
    c.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND format('%I.%I', n.nspname, c.relname) = ANY ($1::text[])`,
      [publishedNames.rows.map((r) => r.name)],
    ),
  );
  const have = new Set(present.rows.map((r) => r.name));
  const lacking = publishedNames.rows.map((r) => r.name).filter((name) => !have.has(name));
  if (lacking.length > 0) {
    options.log.warn({ subscription: options.subscription, database: options.database, tables: lacking }, 'published tables missing on the subscriber: subscription not refreshed (schema drift; repair with schema/sync)');
    return;
  }
  const subscribed = await withClient(toDb, (c) =>
    c.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_subscription_rel r JOIN pg_subscription s ON s.oid = r.srsubid
        WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [options.subscription],
    ),
  );
  if (publishedNames.rows.length <= Number(subscribed.rows[0]?.n ?? 0)) return;
  await withClient(toDb, (c) => c.query(`ALTER SUBSCRIPTION ${ident(options.subscription)} REFRESH PUBLICATION`));
  options.log.info({ subscription: options.subscription }, 'subscription refreshed: new published tables');
}

/** Waits until every table of the subscription is synchronized; returns how many there are. */
export async function waitForInitialSync(toDb: ConnectTarget, options: SetupOptions): Promise<number> {
  const deadline = Date.now() + (options.syncTimeoutMs ?? D.INITIAL_SYNC_TIMEOUT_MS);
  let lastReported = -1;
  return withClient(toDb, async (client) => {
    for (;;) {
      const { rows } = await client.query<{ total: string; ready: string }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE sr.srsubstate IN ('r', 's')) AS ready
           FROM pg_subscription_rel sr JOIN pg_subscription s ON s.oid = sr.srsubid
          WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [options.subscription],
      );
      const total = Number(rows[0]?.total ?? 0);
      const ready = Number(rows[0]?.ready ?? 0);
      if (ready !== lastReported) {
        options.onProgress?.({ database: options.database, tablesTotal: total, tablesReady: ready });
        options.log.info({ database: options.database, tablesReady: ready, tablesTotal: total }, 'initial copy');
        lastReported = ready;
      }
      if (total > 0 && ready === total) return total;
      if (Date.now() > deadline) {
        throw new PgshiftError(
          'PGSHIFT_ERR_INITIAL_SYNC_TIMEOUT',
          `initial copy of ${options.database} not finished in time: ${ready} of ${total} tables ready`,
          { status: 504 },
        );
      }
      await new Promise((r) => setTimeout(r, D.INITIAL_SYNC_POLL_MS));
    }
  });
}

/**
 * Blue's schema (`dumpSchema`) restored into the receiving side in one transaction, the
 * same restore preflight's trial runs (schema-restore.ts). The dump is read to its end
 * before the restore starts, so a dump that broke off half way never reaches it.
 * Throws PGSHIFT_ERR_SCHEMA_COPY with `details.stage` `dump` or `restore`, and for the
 * latter `details.refused` true when the receiving side refused a statement.
 */
export async function copySchema(from: ConnectTarget, to: ConnectTarget): Promise<void> {
  await restoreSchema(await dumpSchema(from), to, { mode: 'all' });
}
