import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PgshiftError } from '../errors.js';
import * as D from '../defaults.js';

const run = promisify(execFile);

/** The unprivileged account the lab's servers run as when pgshift runs as root. */
export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * PostgreSQL refuses to run as root. As root, the lab runs its servers as `postgres`
 * (created if missing); as anyone else, as that user itself (null: no switch needed).
 */
export async function ensureLabUser(name = D.LAB_OS_USER): Promise<OsUser | null> {
  if (process.getuid?.() !== 0) return null;
  let found = await lookupUser(name);
  if (!found) {
    try {
      await run('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
    } catch (err) {
      throw new PgshiftError('PGSHIFT_ERR_LAB_OS_USER', `cannot create OS user ${name} for the lab's servers`, {
        status: 500,
        cause: err,
      });
    }
    found = await lookupUser(name);
  }
  if (!found) throw new PgshiftError('PGSHIFT_ERR_LAB_OS_USER', `OS user ${name} not found after creating it`);
  return found;
}

async function lookupUser(name: string): Promise<OsUser | null> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', name]), run('id', ['-g', name])]);
    return { name, uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return null;
  }
}

/** Whether `user` may read (r), write (w) or execute/traverse (x) `path`. */
export async function canAccessAs(user: OsUser, path: string, mode: 'r' | 'w' | 'x'): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('test', [`-${mode}`, path], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
