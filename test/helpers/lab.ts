import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Lab } from '../../src/local/lab.js';
import { createLogger, type Logger } from '../../src/log.js';

/** A logger for tests: silent unless PGSHIFT_TEST_LOG names a level. */
export function testLogger(): Logger {
  return createLogger({ level: process.env.PGSHIFT_TEST_LOG ?? 'silent' });
}

/**
 * A lab of its own for one test file: real servers in a fresh temp folder (reachable by
 * the lab's OS user), stopped and removed when the test ends.
 */
export async function startTestLab(t: Test): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-test-lab-'));
  await chmod(dir, 0o755);
  const lab = await Lab.start({ dir, log: testLogger() });
  t.teardown(async () => {
    await lab.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return lab;
}
