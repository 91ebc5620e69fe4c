import { parseArgs, type ParseArgsConfig } from 'node:util';
import closeWithGrace from 'close-with-grace';
import * as D from './defaults.js';
import { ConfigError } from './config/load.js';
import { describeError } from './errors.js';
import type { Logger } from './log.js';

type OptionSpecs = NonNullable<ParseArgsConfig['options']>;
export type ArgValues = Record<string, string | boolean | undefined>;

/** What an entry point's start function gets from the command line. */
export interface ServeArgs {
  configPath: string;
  host?: string;
  port?: number;
  /** Every option as parsed, the entry point's own included. */
  values: ArgValues;
}

/** A started service as the process shell sees it. */
export interface Served {
  url: string;
  log: Logger;
  /**
   * Stops everything the start function started; run once, on SIGTERM/SIGINT or an
   * uncaught error. `deadline` (epoch ms) is when the process will be killed: work in
   * flight may run until a little before it.
   */
  close(deadline?: number): Promise<void>;
  /** How long a stop may take from the signal (the container's stop timeout); DEFAULT_STOP_TIMEOUT_SECONDS when absent. */
  stopTimeoutMs?: number;
  /** Printed on stderr once started (stdout carries JSON logs). */
  banner?: string;
}

export interface ServeSpec {
  usage: string;
  /** Options beside --config, --host, --port and --help. */
  options?: OptionSpecs;
  start(args: ServeArgs): Promise<Served>;
}

const COMMON_OPTIONS: OptionSpecs = {
  config: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean', default: false },
};

/**
 * The process around a service, shared by the production entry point (server.ts) and
 * the lab's: arguments, start, and a graceful stop on SIGTERM/SIGINT within the
 * service's stop timeout. Exit codes: 0 stopped cleanly, 1 failed to start or to stop,
 * 2 bad configuration or arguments (one line per problem on stderr).
 */
export async function serve(spec: ServeSpec, argv: string[] = process.argv.slice(2)): Promise<void> {
  let values: ArgValues;
  try {
    values = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...spec.options }, strict: true }).values as ArgValues;
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n${spec.usage}`);
    process.exit(D.CONFIG_ERROR_EXIT_CODE);
  }
  if (values.help) {
    process.stdout.write(spec.usage);
    return;
  }
  const port = typeof values.port === 'string' ? (/^\d{1,5}$/.test(values.port) ? Number(values.port) : NaN) : undefined;
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    process.stderr.write(`--port: must be an integer from 0 to 65535, got "${values.port}"\n`);
    process.exit(D.CONFIG_ERROR_EXIT_CODE);
  }

  const configPath = typeof values.config === 'string' ? values.config : (process.env.PGSHIFT_CONFIG ?? D.DEFAULT_CONFIG_PATH);
  const starting = spec.start({
    configPath,
    values,
    ...(typeof values.host === 'string' ? { host: values.host } : {}),
    ...(port === undefined ? {} : { port }),
  });
  // Signals are handled from the first moment: a stop requested while the service (or
  // the lab) is still starting waits for the start to finish and then shuts everything down.
  // The deadline is our own (close-with-grace's has no way to learn the configured one):
  // counted from the signal, it ends the process a little before ECS's SIGKILL would, so
  // that the log says what was still running.
  closeWithGrace({ delay: false }, async ({ signal, err }) => {
    const signalledAt = Date.now();
    let stopTimeoutMs = D.DEFAULT_STOP_TIMEOUT_SECONDS * 1000;
    let log: Logger | null = null;
    const giveUp = () => {
      const message = `not stopped within the stop timeout (${stopTimeoutMs} ms); exiting`;
      if (log) log.error({ stopTimeoutMs }, message);
      else process.stderr.write(`${message}\n`);
      process.exit(1);
    };
    const margin = () => Math.max(0, stopTimeoutMs - D.STOP_EXIT_MARGIN_MS);
    let timer = setTimeout(giveUp, margin());
    timer.unref();
    const served = await starting.catch(() => undefined);
    if (!served) return;
    log = served.log;
    if (served.stopTimeoutMs !== undefined) {
      stopTimeoutMs = served.stopTimeoutMs;
      clearTimeout(timer);
      timer = setTimeout(giveUp, Math.max(0, signalledAt + margin() - Date.now()));
      timer.unref();
    }
    if (err) served.log.error({ err, stopTimeoutMs }, 'stopping after an uncaught error');
    else served.log.info({ signal, stopTimeoutMs }, 'stopping');
    await served.close(signalledAt + margin());
    clearTimeout(timer);
    served.log.info({ ms: Date.now() - signalledAt }, 'stopped');
  });

  let served: Served;
  try {
    served = await starting;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`${configPath}: ${problem}\n`);
      process.exit(D.CONFIG_ERROR_EXIT_CODE);
    }
    process.stderr.write(`pgshift failed to start: ${describeError(err)}\n`);
    process.exit(1);
  }
  if (served.banner) process.stderr.write(served.banner);
  served.log.info({ url: served.url }, 'pgshift listening');
}
