import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { ident, withClient, type ConnectTarget } from '../postgres/connect.js';
import { toolArgs, toolEnv } from '../replication/tools.js';

export interface DumpRequest {
  /** Databases to dump, each into its own custom-format file. */
  databases: readonly string[];
  /** How to reach each database; a login that can read every table (the admin login). */
  targetFor(database: string): ConnectTarget;
  /** An existing folder for the files. */
  dir: string;
  /** Whole percent, 0-99 while dumping; rises monotonically. */
  onProgress?: (percent: number) => void;
  signal?: AbortSignal;
}

export interface DumpedDatabase {
  name: string;
  /** File name inside the folder. */
  file: string;
  bytes: number;
  tables: number;
}

export interface DumpResult {
  databases: DumpedDatabase[];
  /** Roles and tablespaces (`pg_dumpall --globals-only`, without role passwords). */
  globalsFile: string;
  bytes: number;
}

export const GLOBALS_FILE = 'globals.sql';

/**
 * A logical snapshot of a cluster: `pg_dumpall --globals-only` for the roles the
 * objects need, then `pg_dump --format=custom` of every database. Restore with
 * `psql -f globals.sql`, then per database `createdb` and `pg_restore -d` (not
 * `--create`: a pg_dump newer than the server writes a CREATE DATABASE the older
 * server cannot parse). Progress counts tables whose data pg_dump has written. Role
 * passwords are left out: a dump file is not the place for credentials. pg_dump must
 * be at least the server's major version. Throws PGSHIFT_ERR_PG_DUMP (with pg_dump's
 * own message) or PGSHIFT_ERR_SNAPSHOT_ABORTED.
 */
export async function dumpDatabases(request: DumpRequest): Promise<DumpResult> {
  const first = request.databases[0];
  if (first === undefined) throw new PgshiftError('PGSHIFT_ERR_PG_DUMP', 'no database to dump', { status: 400 });
  const tableCounts: number[] = [];
  for (const database of request.databases) tableCounts.push(await countTables(request.targetFor(database)));

  // One unit for the globals, one per table, one per finished database.
  const total = 1 + tableCounts.reduce((sum, n) => sum + n + 1, 0);
  let done = 0;
  let reported = -1;
  const advance = (units: number) => {
    done += units;
    const percent = Math.min(99, Math.floor((done * 100) / total));
    if (percent > reported) {
      reported = percent;
      request.onProgress?.(percent);
    }
  };
  advance(0);

  const globalsTarget = request.targetFor(first);
  await runTool(
    D.PG_DUMPALL_COMMAND,
    ['--globals-only', '--no-role-passwords', '-w', '-f', join(request.dir, GLOBALS_FILE), ...connectionArgs(globalsTarget), '-l', globalsTarget.database],
    globalsTarget,
    request.signal,
  );
  advance(1);

  const databases: DumpedDatabase[] = [];
  for (const [index, database] of request.databases.entries()) {
    const file = `${String(index + 1).padStart(2, '0')}-${database.replace(/[^A-Za-z0-9_-]/g, '_')}.dump`;
    const target = request.targetFor(database);
    await runTool(
      D.PG_DUMP_COMMAND,
      ['--format=custom', '--verbose', '-w', '-f', join(request.dir, file), ...toolArgs(target)],
      target,
      request.signal,
      (line) => {
        if (line.includes('dumping contents of table')) advance(1);
      },
    );
    const bytes = (await stat(join(request.dir, file))).size;
    databases.push({ name: database, file, bytes, tables: tableCounts[index] ?? 0 });
    advance(1);
  }
  const globalsBytes = (await stat(join(request.dir, GLOBALS_FILE))).size;
  return { databases, globalsFile: GLOBALS_FILE, bytes: databases.reduce((sum, d) => sum + d.bytes, globalsBytes) };
}

export interface RestoreRequest {
  /** The folder dumpDatabases wrote. */
  dir: string;
  globalsFile: string;
  databases: readonly Pick<DumpedDatabase, 'name' | 'file'>[];
  /** How to reach each database of the empty server, as its superuser. */
  targetFor(database: string): ConnectTarget;
  signal?: AbortSignal;
}

/**
 * Restores what dumpDatabases wrote into an empty server, as an operator would: the
 * roles first (`psql` without ON_ERROR_STOP, so a role the server already has, such as
 * its superuser, is no failure), then each database created empty and filled with
 * `pg_restore --exit-on-error`. Throws PGSHIFT_ERR_PG_DUMP with the tool's own message.
 */
export async function restoreDatabases(request: RestoreRequest): Promise<void> {
  const first = request.targetFor('postgres');
  await runTool(D.PSQL_COMMAND, ['-X', '-q', '-w', '-f', join(request.dir, request.globalsFile), ...toolArgs(first)], first, request.signal);
  for (const database of request.databases) {
    await withClient(first, async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [database.name]);
      if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${ident(database.name)}`);
    });
    const target = request.targetFor(database.name);
    await runTool(D.PG_RESTORE_COMMAND, ['--exit-on-error', '-w', ...toolArgs(target), join(request.dir, database.file)], target, request.signal);
  }
}

/** Tables whose data pg_dump writes: ordinary tables outside the system schemas, not owned by an extension. */
async function countTables(target: ConnectTarget): Promise<number> {
  return withClient(target, async (client) => {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n
         FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
        WHERE c.relkind = 'r'
          AND ns.nspname NOT IN ('pg_catalog', 'information_schema')
          AND ns.nspname NOT LIKE 'pg\\_toast%' AND ns.nspname NOT LIKE 'pg\\_temp%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`,
    );
    return Number(rows[0]?.n ?? 0);
  });
}

function connectionArgs(target: ConnectTarget): string[] {
  return ['-h', target.endpoint.host, '-p', String(target.endpoint.port), '-U', target.login.user];
}

/** Runs a client tool; its own error lines become the message of PGSHIFT_ERR_PG_DUMP. */
function runTool(
  command: string,
  args: string[],
  target: ConnectTarget,
  signal: AbortSignal | undefined,
  onLine?: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(target, signal));
    const child = spawn(command, args, { env: toolEnv(target), stdio: ['ignore', 'ignore', 'pipe'] });
    const problems: string[] = [];
    let partial = '';
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        onLine?.(line);
        if (/error|fatal|warning|detail|hint/i.test(line)) problems.push(line.trim());
      }
    });
    child.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(new PgshiftError('PGSHIFT_ERR_PG_DUMP', `cannot run ${command}: ${err.message}`, { status: 500, cause: err }));
    });
    child.on('close', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (partial !== '') onLine?.(partial);
      if (signal?.aborted) return reject(abortError(target, signal));
      if (code === 0) return resolve();
      const message = problems.slice(-10).join('; ') || `exit code ${code}`;
      reject(
        new PgshiftError(
          'PGSHIFT_ERR_PG_DUMP',
          `${command} of ${target.database} at ${target.endpoint.host}:${target.endpoint.port} failed: ${message}`,
          { status: 502 },
        ),
      );
    });
  });
}

function abortError(target: ConnectTarget, signal: AbortSignal): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_SNAPSHOT_ABORTED', `dump of ${target.database} was stopped`, {
    status: 409,
    cause: signal.reason,
  });
}
