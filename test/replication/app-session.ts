import pg from 'pg';
import type { Test } from 'tap';
import type { ConnectTarget } from '../../src/postgres/connect.js';

/**
 * A session as an application opens it: plain libpq settings, none of pgshift's
 * (no `default_transaction_read_only=off`), closed when the test ends.
 */
export async function openAppSession(t: Test, target: ConnectTarget, applicationName = 'orders-api'): Promise<pg.Client> {
  const client = new pg.Client({
    host: target.endpoint.host,
    port: target.endpoint.port,
    database: target.database,
    user: target.login.user,
    password: target.login.password,
    application_name: applicationName,
  });
  // A terminated session emits 'error'; the failing query is what the test asserts.
  client.on('error', () => {});
  await client.connect();
  t.teardown(() => client.end().catch(() => {}));
  return client;
}

/** The backend PID of a session, for watching it in pg_stat_activity. */
export async function backendPid(client: pg.Client): Promise<number> {
  return (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
}
