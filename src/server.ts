#!/usr/bin/env node
import * as D from './defaults.js';
import { startService } from './main.js';
import { serve } from './serve.js';

const USAGE = `usage: pgshift-server [--config FILE] [--host H] [--port N]

  --config FILE  configuration (default: $PGSHIFT_CONFIG or ${D.DEFAULT_CONFIG_PATH})
  --host H       listen on address H instead of service.host (0.0.0.0 in a container)
  --port N       listen on port N instead of service.port

The production service: configurations with a \`lab\` section are started with the
lab's entry point instead (npm start).
`;

/** The production process: pgshift on the configured clusters, nothing of the embedded lab. */
await serve({
  usage: USAGE,
  start: ({ configPath, host, port }) =>
    startService({ configPath, env: process.env, ...(host === undefined ? {} : { host }), ...(port === undefined ? {} : { port }) }),
});
