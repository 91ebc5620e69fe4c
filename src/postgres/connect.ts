import pg from 'pg';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError, type ErrorCode } from '../errors.js';
import type { Login, SslMode } from '../config/schema.js';

/** Where a server answers: what RDS calls an endpoint, or host/port from config. */
export interface Endpoint {
  host: string;
  port: number;
}

export interface ConnectTarget {
  endpoint: Endpoint;
  database: string;
  login: Login;
  ssl?: SslMode;
  /** application_name, so pgshift's own sessions are recognisable (and never drained). */
  applicationName?: string;
  statementTimeoutMs?: number;
}

/**
 * The pg client settings pgshift uses for its own sessions. They always run with
 * `default_transaction_read_only = off`, so pgshift keeps working on a side that is
 * read-only by database default or frozen for applications.
 */
export function clientConfig(target: ConnectTarget): pg.ClientConfig {
  const ssl = target.ssl ?? 'disable';
  const config: pg.ClientConfig = {
    host: target.endpoint.host,
    port: target.endpoint.port,
    database: target.database,
    user: target.login.user,
    password: target.login.password,
    application_name: target.applicationName ?? D.PG_APPLICATION_NAME,
    connectionTimeoutMillis: D.PG_CONNECT_TIMEOUT_MS,
    options: `-c default_transaction_read_only=off -c statement_timeout=${target.statementTimeoutMs ?? D.PG_STATEMENT_TIMEOUT_MS}`,
    ...(ssl === 'disable' ? {} : { ssl: { rejectUnauthorized: ssl === 'verify-full' } }),
  };
  // The password must not show up when the config object is logged or inspected.
  Object.defineProperty(config, 'password', { value: target.login.password, enumerable: false });
  return config;
}

/** A libpq connection string, for tools and for CREATE SUBSCRIPTION. Contains the password. */
export function conninfo(target: ConnectTarget): string {
  const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const parts = [
    `host=${quote(target.endpoint.host)}`,
    `port=${target.endpoint.port}`,
    `dbname=${quote(target.database)}`,
    `user=${quote(target.login.user)}`,
    `password=${quote(target.login.password)}`,
  ];
  if ((target.ssl ?? 'disable') !== 'disable') parts.push(`sslmode=${target.ssl === 'verify-full' ? 'verify-full' : 'require'}`);
  return parts.join(' ');
}

/** A postgresql:// URL (with the password), for pools configured by URL such as the state store. */
export function connectionUrl(target: ConnectTarget): string {
  const user = encodeURIComponent(target.login.user);
  const password = encodeURIComponent(target.login.password);
  const url = `postgresql://${user}:${password}@${target.endpoint.host}:${target.endpoint.port}/${encodeURIComponent(target.database)}`;
  const ssl = target.ssl ?? 'disable';
  return ssl === 'disable' ? url : `${url}?sslmode=${ssl === 'verify-full' ? 'verify-full' : 'require'}`;
}

/** Opens a client, runs `work`, always closes. Connection failures become coded errors. */
export async function withClient<T>(target: ConnectTarget, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(clientConfig(target));
  // A server that goes away mid-session emits 'error' on the client; without a
  // listener that would crash the process. The failing query rejects anyway.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    throw new PgshiftError(
      'PGSHIFT_ERR_PG_CONNECT',
      `cannot connect to ${target.endpoint.host}:${target.endpoint.port}/${target.database} as ${target.login.user}: ${(err as Error).message}`,
      { status: 503, cause: err },
    );
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Runs `work`; a pg error becomes a `code` error (502) that says what pgshift was doing,
 * with the pg error as cause. PgshiftErrors pass through as they are.
 */
export async function explainPgError<T>(code: ErrorCode, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isPgshiftError(err)) throw err;
    throw new PgshiftError(code, `${what}: ${describeError(err)}`, { status: 502, cause: err });
  }
}

/** Quotes an SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes an SQL string literal. */
export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
