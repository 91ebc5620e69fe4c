import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import * as D from '../../src/defaults.js';
import { Lab } from '../../src/local/lab.js';
import { PostgresReplication } from '../../src/replication/postgres-replication.js';
import { createLogger, type Logger } from '../../src/log.js';
import { clientConfig, withClient } from '../../src/postgres/connect.js';
import type { Side } from '../../src/shift/model.js';

/** A logger for tests: silent unless PGSHIFT_TEST_LOG names a level. */
export function testLogger(): Logger {
  return createLogger({ level: process.env.PGSHIFT_TEST_LOG ?? 'silent' });
}

/** An empty lab folder (reachable by the lab's OS user), removed when the test ends. */
export async function testLabDir(t: Test, prefix = 'pgshift-test-lab-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A lab of its own for one test file: real servers in a fresh temp folder, stopped and
 * removed when the test ends. Green follows blue unless `green: 'empty'` (as the lab
 * starts, before the service prepares it).
 */
export async function startTestLab(t: Test, options: { green?: 'replicating' | 'empty' } = {}): Promise<Lab> {
  const dir = await testLabDir(t);
  const lab = await Lab.start({ dir, log: testLogger() });
  t.teardown(() => lab.stop());
  if (options.green !== 'empty') await replicateDemo(lab);
  return lab;
}

/**
 * Green made to follow blue by pgshift's own set-up code (replication/, what `prepare`
 * runs), for tests about what comes after preparing. Idempotent.
 */
export async function replicateDemo(lab: Lab): Promise<void> {
  const replication = new PostgresReplication({
    pairId: 'demo',
    databases: [D.LAB_DATABASE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    targets: lab.replicationTargets(),
    log: testLogger(),
  });
  try {
    await replication.setUp('blue->green', { copyData: true });
  } finally {
    await replication.close();
  }
}

/** Replication control of the lab's demo pair, as pgshift's adapter; closed when the test ends. */
export function demoReplication(t: Test, lab: Lab, log: Logger = testLogger(), pairId = 'demo'): PostgresReplication {
  const replication = new PostgresReplication({
    pairId,
    databases: [D.LAB_DATABASE],
    publication: D.DEFAULT_PUBLICATION,
    subscription: D.DEFAULT_SUBSCRIPTION,
    targets: lab.replicationTargets(),
    log,
  });
  t.teardown(() => replication.close());
  return replication;
}

/** The pid of a lab server's postmaster (to stop it with SIGSTOP: a server that takes no new connection). */
export async function postmasterPid(lab: Lab, side: Side): Promise<number> {
  const text = await readFile(join(lab.servers[side].dataDir, 'postmaster.pid'), 'utf8');
  return Number(text.split('\n')[0]);
}

/**
 * Takes every connection slot of `side` that a non-superuser may use, with idle admin
 * sessions (superusers may still use the reserved slots): what an application's pools
 * do when they reach max_connections. Returns the sessions, to be ended by the caller.
 */
export async function fillConnectionSlots(lab: Lab, side: Side): Promise<pg.Client[]> {
  const free = await withClient(lab.target(side, 'admin', 'postgres'), async (c) => {
    const { rows } = await c.query<{ free: number }>(
      `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
              - (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS free`,
    );
    // This admin session ends below and frees its slot: take that one too.
    return rows[0]!.free + 1;
  });
  const clients: pg.Client[] = [];
  const open = async () => {
    const c = new pg.Client(clientConfig(lab.target(side, 'admin', 'postgres')));
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
  };
  for (let opened = 0; opened < free; ) {
    const batch = Math.min(20, free - opened);
    await Promise.all(Array.from({ length: batch }, open));
    opened += batch;
  }
  // The count included fresh probe connections that have ended since: take every slot
  // still free, until a non-superuser is refused three times in a row (a probe's own
  // connection may hold the last slot for a moment).
  const refused = () =>
    withClient(lab.target(side, 'pgshift'), (c) => c.query('SELECT 1')).then(
      () => false,
      () => true,
    );
  for (let inARow = 0, extra = 0; inARow < 3; ) {
    if (await refused()) inARow++;
    else if (++extra > 20) throw new Error('cannot take every connection slot');
    else (inARow = 0, await open());
  }
  return clients;
}

/**
 * Stops a lab server's postmaster with SIGSTOP: it forks no backend, so new connections
 * hang after the TCP handshake while existing sessions (processes of their own) keep
 * answering. Continued when the test ends, or earlier through the returned function.
 */
export async function freezePostmaster(t: Test, lab: Lab, side: Side): Promise<() => void> {
  const pid = await postmasterPid(lab, side);
  process.kill(pid, 'SIGSTOP');
  let stopped = true;
  const resume = () => {
    if (stopped) process.kill(pid, 'SIGCONT');
    stopped = false;
  };
  t.teardown(resume);
  return resume;
}
