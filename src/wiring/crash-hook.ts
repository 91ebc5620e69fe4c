import { readFileSync, rmSync } from 'node:fs';
import type { Transition } from '../shift/state.js';

/**
 * The crash tests' hook (test/shift/lab-cutover-crash.test.ts, bench/cutover-soak.ts):
 * with PGSHIFT_TEST_CRASH_FILE set, the process kills itself with SIGKILL right after
 * the journal write that the file names, `<step>:<started|noted|done>`, and removes the
 * file first so that the next process runs on. `<step>:<when>:SIGTERM` sends itself
 * SIGTERM instead, as ECS stops a task (test/server/graceful-stop-cutover.test.ts).
 * Without the variable it does nothing.
 */
export function crashHook(file: string | undefined): ((transition: Transition) => void) | undefined {
  if (!file) return undefined;
  return (transition) => {
    let wanted: string;
    try {
      wanted = readFileSync(file, 'utf8').trim();
    } catch {
      return;
    }
    const [step, when, signal = 'SIGKILL'] = wanted.split(':');
    const record = transition.steps?.find((s) => s.name === step);
    if (!record || transition.abandoned) return;
    const reached = record.status === 'done' ? 'done' : record.detail && Object.keys(record.detail).length > 0 ? 'noted' : 'started';
    if (reached !== when) return;
    rmSync(file, { force: true });
    process.kill(process.pid, signal === 'SIGTERM' ? 'SIGTERM' : 'SIGKILL');
  };
}
