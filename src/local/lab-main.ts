import { resolve } from 'node:path';
import { readConfigDocument, resolveConfig, type Env } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { startService, type RunningService } from '../main.js';
import { Lab } from './lab.js';
import { LAB_PAIR } from './lab-endpoints.js';
import { prepareLabPair } from './lab-prepare.js';
import { demoSchemaReady, labWorkloadSettings, withoutAppSignal, type WorkloadFlags } from './workload/lab-hook.js';
import { startLabWorkload } from './workload/lab.js';
import { labDemoAppLoad } from './workload/rehearsal-load.js';
import type { DemoWorkload } from './workload/workload.js';

export interface LabStartOptions {
  configPath: string;
  env: Env;
  /** Reset the lab folder before starting (`--fresh`). */
  fresh?: boolean;
  /** The lab folder instead of the config's lab.dir (`--lab-dir`). */
  labDir?: string;
  host?: string;
  port?: number;
  /** `--no-workload`, `--workload-rate N`: over the config's lab.workload. */
  workload?: WorkloadFlags;
}

/** pgshift on the embedded lab, as `npm start` runs it. */
export interface RunningLab {
  /** Null for a configuration without a `lab` section: then only the service runs. */
  lab: Lab | null;
  service: RunningService;
  /** The demo application; null when it is off or the config has no lab. */
  workload: DemoWorkload | null;
  url: string;
  log: Logger;
  /**
   * Prepares the lab's pair through the service when it is unprepared (the first start)
   * and prints the progress with `out`, in the background; close() stops following.
   */
  followPreparation(out: (line: string) => void): void;
  /** Stops what started, newest first: lab-only parts, the service, the lab's servers. Once; later calls wait for the same stop. */
  close(): Promise<void>;
}

/**
 * Values of the variables the lab provides, of the right types, so that a config which
 * uses them is checked completely (its `lab` section included) before the slow lab starts.
 */
const LAB_ENV_PLACEHOLDERS: Record<string, string> = {
  PGSHIFT_LAB_DIR: '/lab',
  PGSHIFT_LAB_BLUE_PORT: '1',
  PGSHIFT_LAB_GREEN_PORT: '2',
  PGSHIFT_LAB_BLUE_MAJOR: '13',
  PGSHIFT_LAB_GREEN_MAJOR: '14',
  PGSHIFT_LAB_ADMIN_PASSWORD: 'placeholder',
  PGSHIFT_LAB_PGSHIFT_PASSWORD: 'placeholder',
  PGSHIFT_LAB_STATE_URL: 'postgresql://placeholder',
  PGSHIFT_LAB_OPERATOR_TOKEN_SHA256: '0'.repeat(64),
  PGSHIFT_LAB_VIEWER_TOKEN_SHA256: '0'.repeat(64),
  PGSHIFT_LAB_ROUTE53_ENDPOINT: 'http://127.0.0.1:1',
  PGSHIFT_LAB_RDS_ENDPOINT: 'http://127.0.0.1:2',
  PGSHIFT_LAB_AWS_ACCESS_KEY_ID: 'placeholder',
  PGSHIFT_LAB_AWS_SECRET_ACCESS_KEY: 'placeholder',
  PGSHIFT_LAB_HOSTED_ZONE_ID: 'ZPLACEHOLDER',
};

/**
 * Starts the lab a configuration's `lab` section describes (real PostgreSQL servers, the
 * Route 53 and RDS stand-ins), then the production service exactly as server.ts starts
 * it, given the lab's variables and the configuration without its `lab` section, then
 * the lab-only parts that need the service. Throws ConfigError before starting anything
 * when the configuration is bad. A configuration without a `lab` section starts the
 * service alone.
 */
export async function startLab(options: LabStartOptions): Promise<RunningLab> {
  const raw = await readConfigDocument(options.configPath);
  const labSection = typeof raw === 'object' && raw !== null && 'lab' in raw;
  const precheck = resolveConfig(raw, labSection ? { ...LAB_ENV_PLACEHOLDERS, ...options.env } : options.env, options.configPath);
  const log = createLogger({ level: precheck.service.logLevel });
  const listen = { ...(options.host === undefined ? {} : { host: options.host }), ...(options.port === undefined ? {} : { port: options.port }) };

  if (!labSection || !precheck.lab) {
    const service = await startService({ configPath: options.configPath, env: options.env, document: raw, log, ...listen });
    return { lab: null, service, workload: null, url: service.url, log, followPreparation: () => {}, close: once(() => service.close()) };
  }

  // Checked with the rest of the config, before the slow lab starts.
  const workloadSettings = labWorkloadSettings(raw, options.workload ?? {}, options.configPath);
  const { lab: _section, ...labServiceDocument } = raw as Record<string, unknown>;
  const stops: (() => Promise<void>)[] = [];
  const close = once(async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((err) => log.error({ err }, 'lab shutdown step failed'));
  });
  try {
    const lab = await Lab.start({ dir: resolve(options.labDir ?? precheck.lab.dir), fresh: options.fresh === true, log });
    stops.push(() => lab.stop());
    const runWorkload = workloadSettings.enabled && (await demoSchemaReady(lab, log));
    // No application, no pushes: an app signal left on would keep the pair from advancing.
    const serviceDocument = runWorkload ? labServiceDocument : withoutAppSignal(labServiceDocument);
    // With the demo application on, it is also the demo pair's rehearsal load, pointed at the staging names.
    const rehearsalLoads = runWorkload && lab.route53 ? { [LAB_PAIR]: labDemoAppLoad(lab, workloadSettings) } : undefined;
    const service = await startService({
      configPath: options.configPath,
      env: { ...options.env, ...lab.env() },
      document: serviceDocument,
      log,
      ...listen,
      ...(rehearsalLoads ? { rehearsalLoads } : {}),
    });
    stops.push(() => service.close());

    // Lab-only parts that run beside the service (the demo workload, ...) start here,
    // after it listens; push each one's stop onto `stops`.
    const workload = runWorkload ? await startLabWorkload({ lab, settings: workloadSettings, serviceUrl: service.url, log }) : null;
    if (workload) stops.push(() => workload.stop());

    const following = new AbortController();
    let preparing: Promise<void> = Promise.resolve();
    stops.push(async () => {
      following.abort();
      await preparing;
    });
    const followPreparation = (out: (line: string) => void) => {
      preparing = prepareLabPair({ url: service.url, token: lab.state.secrets.operatorToken, pair: LAB_PAIR, log, out, signal: following.signal });
    };
    return { lab, service, workload, url: service.url, log, followPreparation, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function once(run: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= run());
}
