import { resolve } from 'node:path';
import type { App } from './app.js';
import { buildApp } from './app.js';
import { readConfigDocument, resolveConfig, type Env } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import { Lab } from './local/lab.js';
import type { Services } from './services.js';
import { PgShiftStore } from './store/pg-store.js';
import { createStatePool, migrateState, pingState } from './store/state-db.js';
import { composePairs, instanceIdOf } from './wiring/service.js';

export interface StartOptions {
  configPath: string;
  env: Env;
  /** Reset the embedded lab's folder before starting it. */
  fresh?: boolean;
  /** Use this lab folder instead of the config's lab.dir. */
  labDir?: string;
  /** Override config.service.host (a container listens on 0.0.0.0). */
  host?: string;
  /** Override config.service.port (tests use 0). */
  port?: number;
}

export interface RunningService {
  config: Config;
  app: App;
  url: string;
  log: Logger;
  lab?: Lab;
  close(): Promise<void>;
}

/**
 * Values of the variables the lab provides, of the right types, so that a config
 * which uses them can be checked completely before the (slow) lab starts.
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
 * Wires pgshift: configuration (and the embedded lab when the config asks for it), the
 * adapters, the HTTP app. Throws ConfigError before starting anything when the config
 * is bad.
 */
export async function startService(options: StartOptions): Promise<RunningService> {
  const raw = await readConfigDocument(options.configPath);
  const usesLab = typeof raw === 'object' && raw !== null && 'lab' in raw;
  const precheck = resolveConfig(raw, usesLab ? { ...LAB_ENV_PLACEHOLDERS, ...options.env } : options.env, options.configPath);
  const log = createLogger({ level: precheck.service.logLevel });

  let lab: Lab | undefined;
  let env = options.env;
  if (usesLab && precheck.lab) {
    lab = await Lab.start({ dir: resolve(options.labDir ?? precheck.lab.dir), fresh: options.fresh === true, log });
    env = { ...options.env, ...lab.env() };
  }
  const closers: (() => Promise<void>)[] = [];
  if (lab) closers.push(() => lab.stop());
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err) => log.error({ err }, 'shutdown step failed'));
  };

  try {
    const config = resolveConfig(raw, env, options.configPath);
    const statePool = createStatePool(config.state.url, log);
    closers.push(() => statePool.end());
    const store = new PgShiftStore(statePool);
    const applied = await migrateState(store, config.state.url);
    if (applied.length > 0) log.info({ migrations: applied }, 'state schema migrated');

    const composed = await composePairs(config, log, store, instanceIdOf(options.env));
    closers.push(() => composed.close());

    const services: Services = {
      config,
      log,
      readiness: [
        { name: 'state-store', run: () => pingState(statePool) },
        { name: 'leadership', run: () => composed.leadership() },
      ],
      shift: { controller: composed.controller, store, signals: (pair) => composed.registry.get(pair)! },
      preflight: composed.preflight,
      signals: composed.registry,
      metrics: [composed.metrics],
    };
    const app = await buildApp(services);
    closers.push(() => app.close());
    const address = await app.listen({ host: options.host ?? config.service.host, port: options.port ?? config.service.port });
    return {
      config,
      app,
      url: address,
      log,
      ...(lab ? { lab } : {}),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
