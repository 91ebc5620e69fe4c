#!/usr/bin/env node
import * as D from '../defaults.js';
import { serve } from '../serve.js';
import { labBanner } from './banner.js';
import { startLab } from './lab-main.js';
import { workloadBannerLines } from './workload/lab-hook.js';

const USAGE = `usage: pgshift-lab [--config FILE] [--fresh] [--lab-dir DIR] [--host H] [--port N] [--no-workload] [--workload-rate N]

  --config FILE  configuration (default: $PGSHIFT_CONFIG or ${D.DEFAULT_CONFIG_PATH})
  --fresh        reset the embedded lab's folder before starting
  --lab-dir DIR  the embedded lab's folder instead of lab.dir
  --host H       listen on address H instead of service.host (0.0.0.0 in a container)
  --port N       listen on port N instead of service.port
  --no-workload  do not run the demo application (lab.workload.enabled: false)
  --workload-rate N  the demo application's write transactions per second instead of lab.workload.rate
`;

/**
 * The lab's process (`npm start`): the embedded lab, then the production service on it,
 * then how to reach both. Same arguments, signals and exit codes as server.ts.
 */
await serve({
  usage: USAGE,
  options: {
    fresh: { type: 'boolean', default: false },
    'lab-dir': { type: 'string' },
    'no-workload': { type: 'boolean', default: false },
    'workload-rate': { type: 'string' },
  },
  async start({ configPath, host, port, values }) {
    const given = values['workload-rate'];
    // Number('') is 0: an empty or blank value is a mistake, not "no writes".
    const rate = typeof given === 'string' ? (given.trim() === '' ? NaN : Number(given)) : undefined;
    if (rate !== undefined && !(Number.isFinite(rate) && rate >= 0)) {
      process.stderr.write(`--workload-rate: must be a number of writes per second >= 0, got "${values['workload-rate']}"\n`);
      process.exit(D.CONFIG_ERROR_EXIT_CODE);
    }
    const running = await startLab({
      configPath,
      env: process.env,
      fresh: values.fresh === true,
      ...(typeof values['lab-dir'] === 'string' ? { labDir: values['lab-dir'] } : {}),
      ...(host === undefined ? {} : { host }),
      ...(port === undefined ? {} : { port }),
      workload: { ...(values['no-workload'] === true ? { enabled: false } : {}), ...(rate === undefined ? {} : { rate }) },
    });
    let banner: string | undefined;
    try {
      banner = running.lab ? await labBanner(running.lab, running.url, workloadBannerLines(running.workload, running.lab.dir)) : undefined;
    } catch (err) {
      await running.close();
      throw err;
    }
    // After the banner, which serve() prints once this returns.
    setImmediate(() => running.followPreparation((line) => process.stderr.write(line)));
    return { url: running.url, log: running.log, close: running.close, ...(banner === undefined ? {} : { banner }) };
  },
});
