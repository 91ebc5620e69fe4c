import { spawn } from 'node:child_process';
import pg from 'pg';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { withClient, type ConnectTarget } from '../postgres/connect.js';
import { finished, toolArgs, toolEnv } from './tools.js';

/**
 * Blue's schema restored elsewhere, one pg_dump TOC entry at a time. The set-up of green
 * (`copySchema`) and preflight's trial restore both go through `restoreSchema`, so what
 * the trial finds is exactly what the set-up would meet.
 */

/** One object of a plain schema-only dump, as pg_dump's `-- Name: x; Type: T; Schema: s; Owner: o` header names it. */
export interface DumpEntry {
  /** pg_dump's type, e.g. `VIEW`, `FUNCTION`, `FK CONSTRAINT`, `COMMENT`. */
  kind: string;
  /** `-` for objects outside a schema (extensions, schemas themselves). */
  schema: string;
  name: string;
  /** Session settings pg_dump writes between objects (`SET default_tablespace = ''`), run before the entry. */
  settings: string;
  sql: string;
}

export interface ParsedDump {
  /** The settings pg_dump opens its script with (search_path, check_function_bodies, ...). */
  preamble: string;
  entries: DumpEntry[];
}

const HEADER = /^--\n-- Name: (.*); Type: (.*); Schema: (.*); Owner: ?(.*)\n--\n/gm;
const SESSION_SETTING = /^(SET [a-z_]+ = .*;|SELECT pg_catalog\.set_config\(.*\);)$/;
/** psql meta-commands newer pg_dumps write around the script; they mean nothing outside psql. */
const PSQL_RESTRICT = /^\\(un)?restrict \S+$/;

/** Splits a plain-format schema-only dump into its preamble and its objects, in dump order. */
export function parseDump(text: string): ParsedDump {
  const headers = [...text.matchAll(HEADER)];
  const bodies = [text.slice(0, headers[0]?.index ?? text.length)];
  for (const [i, h] of headers.entries()) bodies.push(text.slice(h.index + h[0].length, headers[i + 1]?.index ?? text.length));
  const lines = bodies.map((b) => b.split('\n').filter((l) => !PSQL_RESTRICT.test(l)));
  const entries: DumpEntry[] = [];
  let pending: string[] = [];
  for (const [i, h] of headers.entries()) {
    const body = lines[i + 1]!;
    // Settings at the end of a body belong to the objects after it, not to this one.
    const carried: string[] = [];
    while (body.length > 0 && (body.at(-1)!.trim() === '' || SESSION_SETTING.test(body.at(-1)!) || body.at(-1)!.startsWith('--'))) {
      const line = body.pop()!;
      if (SESSION_SETTING.test(line)) carried.unshift(line);
    }
    const sql = body.join('\n').trim();
    if (sql !== '') entries.push({ kind: h[2]!, schema: h[3]!, name: h[1]!, settings: pending.join('\n'), sql });
    pending = sql === '' ? [...pending, ...carried] : carried;
  }
  return { preamble: lines[0]!.filter((l) => SESSION_SETTING.test(l)).join('\n'), entries };
}

/**
 * `view public.v`, `fk constraint public.orders orders_customer_id_fkey`, `comment on
 * view public.v` (pg_dump names a comment or grant `VIEW v`): how findings and errors
 * name an entry.
 */
export function describeEntry(entry: Pick<DumpEntry, 'kind' | 'schema' | 'name'>): string {
  const schema = entry.schema === '-' ? '' : `${entry.schema}.`;
  const about = /^(COMMENT|ACL|SECURITY LABEL)$/.test(entry.kind) ? /^([A-Z][A-Z ]*[A-Z]) (.*)$/.exec(entry.name) : null;
  if (about) return `${entry.kind.toLowerCase()} on ${about[1]!.toLowerCase()} ${about[1] === 'EXTENSION' || about[1] === 'SCHEMA' ? '' : schema}${about[2]}`;
  return `${entry.kind.toLowerCase()} ${schema}${entry.name}`;
}

export interface DumpSchemaOptions {
  /**
   * Leave out owners and grants (`--no-owner --no-privileges`): the trial restore does,
   * since the roles they name are copied to green by prepare's `roles` step, which a
   * trial must not run (it leaves no roles behind).
   */
  withoutOwnership?: boolean;
  /** Stops pg_dump (PGSHIFT_ERR_SCHEMA_COPY with `details.stopped`): it waits out locks with no timeout of its own. */
  signal?: AbortSignal;
}

/**
 * `pg_dump --schema-only` of `from` without pgshift's own schema, publications and
 * subscriptions; passwords go through the environment, never the command line. Throws
 * PGSHIFT_ERR_SCHEMA_COPY with `details.stage` `dump`.
 */
export async function dumpSchema(from: ConnectTarget, options: DumpSchemaOptions = {}): Promise<ParsedDump> {
  const dump = spawn(
    D.PG_DUMP_COMMAND,
    [
      '--schema-only',
      '--no-publications',
      '--no-subscriptions',
      `--exclude-schema=${D.PGSHIFT_SCHEMA}`,
      ...(options.withoutOwnership ? ['--no-owner', '--no-privileges'] : []),
      ...toolArgs(from),
    ],
    { env: toolEnv(from), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const chunks: Buffer[] = [];
  dump.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
  const stop = () => dump.kill('SIGTERM');
  options.signal?.addEventListener('abort', stop, { once: true });
  const result = await finished(dump).finally(() => options.signal?.removeEventListener('abort', stop));
  if (options.signal?.aborted) {
    throw new PgshiftError('PGSHIFT_ERR_SCHEMA_COPY', `schema dump of ${from.database} stopped`, { details: { stage: 'dump', stopped: true } });
  }
  if (result.code !== 0) {
    throw new PgshiftError('PGSHIFT_ERR_SCHEMA_COPY', `schema dump of ${from.database} failed: ${result.stderr.trim().slice(0, 2000)}`, {
      details: { stage: 'dump', exitCode: result.code },
    });
  }
  return parseDump(Buffer.concat(chunks).toString('utf8'));
}

/** What green said about an entry it refused. */
export interface RestoreFailure {
  entry: DumpEntry;
  message: string;
  sqlstate: string | null;
  hint: string | null;
  detail: string | null;
}

export interface RestoreProgress {
  done: number;
  total: number;
}

export interface RestoreOptions {
  /**
   * `all`: one transaction that the first failing entry rolls back (the set-up: a schema
   * half restored would be adopted by the next try). `each`: every entry on its own, so
   * that one failure does not hide the next (the trial, in a database it drops anyway).
   */
  mode: 'all' | 'each';
  /** Entries are not started after this (epoch ms); `each` then answers what it reached. */
  deadline?: number;
  onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreResult {
  failures: RestoreFailure[];
  done: number;
  total: number;
  /** The deadline stopped it before the last entry. */
  stopped: boolean;
}

/**
 * Runs the dump's entries in `to`, in dump order. Mode `all` throws PGSHIFT_ERR_SCHEMA_COPY
 * (`details.stage` `restore`, `details.refused` true when green refused a statement, as
 * opposed to a lost connection) at the first failure; mode `each` answers every failure.
 */
export async function restoreSchema(dump: ParsedDump, to: ConnectTarget, options: RestoreOptions): Promise<RestoreResult> {
  const total = dump.entries.length;
  const failures: RestoreFailure[] = [];
  let done = 0;
  const progressEvery = Math.max(1, Math.floor(total / D.SCHEMA_RESTORE_PROGRESS_STEPS));
  return withClient(to, async (client) => {
    const all = options.mode === 'all';
    if (all) await client.query('BEGIN');
    if (dump.preamble !== '') await client.query(dump.preamble);
    options.onProgress?.({ done, total });
    for (const entry of dump.entries) {
      if (options.deadline !== undefined && Date.now() > options.deadline) {
        if (all) throw new PgshiftError('PGSHIFT_ERR_SCHEMA_COPY', `schema restore into ${to.database} ran out of time at ${done} of ${total} objects`, { details: { stage: 'restore' } });
        return { failures, done, total, stopped: true };
      }
      try {
        if (entry.settings !== '') await client.query(entry.settings);
        await client.query(entry.sql);
      } catch (err) {
        const failure = failureOf(entry, err);
        if (all || failure.sqlstate === null || isConnectionLoss(failure.sqlstate)) {
          throw new PgshiftError(
            'PGSHIFT_ERR_SCHEMA_COPY',
            `schema restore into ${to.endpoint.host}:${to.endpoint.port}/${to.database} failed at ${describeEntry(entry)}: ${failure.message}`,
            {
              details: { stage: 'restore', refused: failure.sqlstate !== null && !isConnectionLoss(failure.sqlstate), object: describeEntry(entry), sqlstate: failure.sqlstate },
              cause: err,
            },
          );
        }
        failures.push(failure);
      }
      done += 1;
      if (done % progressEvery === 0 || done === total) options.onProgress?.({ done, total });
    }
    if (all) await client.query('COMMIT');
    return { failures, done, total, stopped: false };
  });
}

function failureOf(entry: DumpEntry, err: unknown): RestoreFailure {
  const e = err as Partial<pg.DatabaseError>;
  const sqlstate = err instanceof pg.DatabaseError && typeof e.code === 'string' ? e.code : null;
  return { entry, message: (err as Error).message, sqlstate, hint: e.hint ?? null, detail: e.detail ?? null };
}

/** Class 08 (connection exception) and 57P (operator intervention: shutdown, terminated session). */
function isConnectionLoss(sqlstate: string): boolean {
  return sqlstate.startsWith('08') || sqlstate.startsWith('57P');
}
