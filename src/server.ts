#!/usr/bin/env node
import { parseArgs } from 'node:util';
import closeWithGrace from 'close-with-grace';
import * as D from './defaults.js';
import { ConfigError } from './config/load.js';
import { describeError } from './errors.js';
import { startService, type RunningService } from './main.js';
import { labBanner } from './local/banner.js';

const USAGE = `usage: pgshift-server [--config FILE] [--fresh] [--lab-dir DIR] [--host H] [--port N]

  --config FILE  configuration (default: $PGSHIFT_CONFIG or ${D.DEFAULT_CONFIG_PATH})
  --fresh        reset the embedded lab's folder before starting (lab configs only)
  --lab-dir DIR  the embedded lab's folder instead of lab.dir (lab configs only)
  --host H       listen on address H instead of service.host (0.0.0.0 in a container)
  --port N       listen on port N instead of service.port
`;

/**
 * The process: arguments, start, and a graceful stop on SIGTERM/SIGINT within
 * SHUTDOWN_GRACE_MS. Exit codes: 0 stopped cleanly, 1 failed to start or to stop,
 * 2 bad configuration (one line per problem on stderr).
 */
async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' },
        fresh: { type: 'boolean', default: false },
        'lab-dir': { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n${USAGE}`);
    process.exit(D.CONFIG_ERROR_EXIT_CODE);
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = args.port === undefined ? undefined : Number(args.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    process.stderr.write(`--port: must be an integer from 0 to 65535, got "${args.port}"\n`);
    process.exit(D.CONFIG_ERROR_EXIT_CODE);
  }

  const configPath = args.config ?? process.env.PGSHIFT_CONFIG ?? D.DEFAULT_CONFIG_PATH;
  const starting = startService({
    configPath,
    env: process.env,
    fresh: args.fresh,
    ...(args['lab-dir'] === undefined ? {} : { labDir: args['lab-dir'] }),
    ...(args.host === undefined ? {} : { host: args.host }),
    ...(port === undefined ? {} : { port }),
  });
  // Signals are handled from the first moment: a stop requested while the lab is still
  // starting waits for the start to finish and then shuts everything down.
  closeWithGrace({ delay: D.SHUTDOWN_GRACE_MS }, async ({ signal, err }) => {
    const service = await starting.catch(() => undefined);
    if (!service) return;
    if (err) service.log.error({ err }, 'stopping after an uncaught error');
    else service.log.info({ signal }, 'stopping');
    await service.close();
    service.log.info('stopped');
  });

  let service: RunningService;
  try {
    service = await starting;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) process.stderr.write(`${configPath}: ${problem}\n`);
      process.exit(D.CONFIG_ERROR_EXIT_CODE);
    }
    process.stderr.write(`pgshift failed to start: ${describeError(err)}\n`);
    process.exit(1);
  }
  if (service.lab) process.stderr.write(await labBanner(service));
  service.log.info({ url: service.url }, 'pgshift listening');
}

await main();
