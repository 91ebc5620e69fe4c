import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RunningProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first JSON log line for which `match` is true. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a TypeScript entry point of ours (e.g. src/server.ts) as a real child process. */
export function runTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningProcess {
  return runNode(['--import', 'tsx', join(ROOT, entry), ...args], env);
}

/** Runs node with `nodeArgs` (e.g. a built script and its arguments) in `cwd` as a real child process. */
export function runNode(nodeArgs: string[], env: NodeJS.ProcessEnv = {}, cwd = ROOT): RunningProcess {
  const child = spawn(process.execPath, nodeArgs, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters: { match: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const seen: Record<string, unknown>[] = [];
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    const text = chunk.toString();
    out += text;
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line);
      } catch {
        continue;
      }
      seen.push(parsed);
      for (const w of [...waiters]) {
        if (w.match(parsed)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(parsed);
        }
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForLog(match, timeoutMs = 60_000) {
      const already = seen.find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${err.slice(-2000)}`)),
          timeoutMs,
        );
        const done = (line: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(line);
        };
        waiters.push({ match, resolve: done });
        void exited.then(({ code }) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) before the log line; stderr: ${err.slice(-2000)}`));
        });
      });
    },
  };
}

/** Variables the CLI reads, cleared so that the caller's environment cannot leak in. */
const CLEAN_CLI_ENV = { PGSHIFT_URL: '', PGSHIFT_TOKEN: '', PGSHIFT_PAIR: '' };

/** Runs the pgshift CLI to its end. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runTs('src/cli/pgshift.ts', args, { ...CLEAN_CLI_ENV, ...env });
  run.child.stdin.end();
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
