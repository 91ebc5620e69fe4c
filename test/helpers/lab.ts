import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import * as D from '../../src/defaults.js';
import { Lab } from '../../src/local/lab.js';
import { PostgresReplication } from '../../src/replication/postgres-replication.js';
import { createLogger, type Logger } from '../../src/log.js';

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
 * removed when the test ends.
 */
export async function startTestLab(t: Test): Promise<Lab> {
  const dir = await testLabDir(t);
  const lab = await Lab.start({ dir, log: testLogger() });
  t.teardown(() => lab.stop());
  return lab;
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
