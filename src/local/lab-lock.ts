import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgshiftError } from '../errors.js';
import { isProcessAlive } from '../process-alive.js';

/** The lock file: the holder's pid. `--fresh` keeps it while it empties the folder. */
export const LAB_LOCK_FILE = 'lab.pid';

/**
 * Marks a lab folder as used by this process. A second pgshift on the same folder would
 * adopt the running servers and, when it fails or stops, stop them under the first one;
 * it is refused instead. A lock left by a process that died is taken over.
 */
export async function lockLabFolder(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LAB_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (holder === process.pid) break;
      if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) {
        throw new PgshiftError(
          'PGSHIFT_ERR_LAB_IN_USE',
          `the lab folder ${dir} is in use by pgshift process ${holder}; stop that one first or start with --lab-dir <another folder>`,
          { status: 409 },
        );
      }
      await unlink(path).catch(() => undefined);
    }
  }
  return async () => {
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (holder === process.pid) await unlink(path).catch(() => undefined);
  };
}

