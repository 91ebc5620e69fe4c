import type { App } from './app.js';
import * as D from './defaults.js';
import { buildApp } from './app.js';
import { ConfigError, readConfigDocument, resolveConfig, type Env } from './config/load.js';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './log.js';
import type { Services } from './services.js';
import { PgShiftStore } from './store/pg-store.js';
import { PgSessionStore } from './store/pg-sessions.js';
import { PgRehearsalStore } from './store/pg-rehearsals.js';
import { createRehearsals } from './wiring/rehearsals.js';
import type { RehearsalLoad } from './rehearsal/load.js';
import { createStatePool, migrateState, pingState } from './store/state-db.js';
import { composePairs, instanceIdOf } from './wiring/service.js';
import { crashHook } from './wiring/crash-hook.js';

export interface StartOptions {
  /** Where the configuration comes from; named in every configuration error. */
  configPath: string;
  env: Env;
  /**
   * The configuration document, already read from `configPath` (the lab's entry point
   * reads it first, to start the lab it describes); read from the file when absent.
   */
  document?: unknown;
  /** The service's logger (the lab's entry point has one before the service starts); made from service.logLevel when absent. */
  log?: Logger;
  /** Override config.service.host (a container listens on 0.0.0.0). */
  host?: string;
  /** Override config.service.port (tests use 0). */
  port?: number;
  /**
   * A rehearsal's write load per pair id, instead of pgshift's INSERTs (rehearsal/load.ts):
   * the lab's entry point hands in its demo application for the demo pair. Production gives none.
   */
  rehearsalLoads?: Readonly<Record<string, RehearsalLoad>>;
}

export interface RunningService {
  config: Config;
  app: App;
  url: string;
  log: Logger;
  /** The configured stop timeout (service.stopTimeoutSeconds) in ms. */
  stopTimeoutMs: number;
  /** The graceful stop (see startService); `deadline` (epoch ms) bounds the step in flight, default: the stop timeout from now. */
  close(deadline?: number): Promise<void>;
}

/**
 * Says that a configuration with a `lab` section is not for this entry point: only the
 * lab's own entry point (`npm start`) starts the embedded lab, which production builds
 * do not contain.
 */
export const LAB_CONFIG_PROBLEM =
  'lab: this configuration is for the embedded lab, which the production service does not contain; start it with the lab entry point (npm start, or node dist-lab/local/lab-server.js --config FILE)';

/**
 * Wires pgshift: configuration, the adapters, the HTTP app. Throws ConfigError before
 * starting anything when the config is bad (a lab configuration included).
 */
export async function startService(options: StartOptions): Promise<RunningService> {
  const raw = options.document === undefined ? await readConfigDocument(options.configPath) : options.document;
  if (typeof raw === 'object' && raw !== null && 'lab' in raw) throw new ConfigError(options.configPath, [LAB_CONFIG_PROBLEM]);
  const config = resolveConfig(raw, options.env, options.configPath);
  const log = options.log ?? createLogger({ level: config.service.logLevel });

  const stopTimeoutMs = config.service.stopTimeoutSeconds * 1000;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch((err) => log.error({ err }, 'shutdown step failed'));
  };
  let stopping = false;

  try {
    const statePool = createStatePool(config.state.url, log);
    closers.push(() => statePool.end());
    const store = new PgShiftStore(statePool);
    const applied = await migrateState(store, config.state.url);
    if (applied.length > 0) log.info({ migrations: applied }, 'state schema migrated');

    const afterJournal = crashHook(options.env.PGSHIFT_TEST_CRASH_FILE);
    const composed = await composePairs(config, log, store, instanceIdOf(options.env), undefined, afterJournal ? { afterJournal } : {});
    closers.push(() => composed.close());
    const rehearsals = await createRehearsals(config, { store: new PgRehearsalStore(statePool), events: store, route53Account: composed.route53Account, log, instanceId: instanceIdOf(options.env), ...(options.rehearsalLoads ? { loads: options.rehearsalLoads } : {}) });
    if (rehearsals) closers.push(() => rehearsals.close());

    const services: Services = {
      config,
      log,
      readiness: [
        {
          name: 'running',
          run: async () => {
            // First of all on SIGTERM: load balancers stop sending work here while the rest of the stop runs.
            if (stopping) throw new Error('stopping');
          },
        },
        { name: 'state-store', run: () => pingState(statePool) },
        { name: 'leadership', run: () => composed.leadership() },
      ],
      shift: { controller: composed.controller, store, signals: (pair) => composed.registry.get(pair)! },
      preflight: composed.preflight,
      schemaSync: composed.schemaSync,
      ...(rehearsals ? { rehearsals: rehearsals.service } : {}),
      signals: composed.registry,
      metrics: [composed.metrics],
      sessions: new PgSessionStore(statePool),
    };
    const app = await buildApp(services);
    let appClosed: Promise<void> | undefined;
    const closeApp = () => (appClosed ??= app.close());
    closers.push(closeApp);
    const address = await app.listen({ host: options.host ?? config.service.host, port: options.port ?? config.service.port });
    let closing: Promise<void> | undefined;
    return {
      config,
      app,
      url: address,
      log,
      stopTimeoutMs,
      /**
       * In the order ECS needs: not ready; the leader ends the step in flight (leaving
       * the rest of a transition to the journal) and releases the lease so that the
       * standby leads at once; the HTTP server ends every connection, event streams and
       * keep-alives included; then samplers and pools.
       */
      close: (deadline = Date.now() + stopTimeoutMs) =>
        (closing ??= (async () => {
          stopping = true;
          log.info({ phase: 'not-ready' }, 'stopping: /readyz answers 503');
          // A rehearsal's teardown deletes staging records and clusters: cancelled now, beside the hand-over, not after it.
          const rehearsalsStopped = rehearsals?.close().catch((err: unknown) => log.error({ err }, 'stopping the rehearsals failed'));
          await composed
            .stopController(Math.max(0, deadline - D.STOP_RESERVE_MS - Date.now()))
            .catch((err: unknown) => log.error({ err }, 'stopping the controller failed'));
          log.info({ phase: 'http' }, 'stopping: closing the HTTP server and its connections');
          await closeApp().catch((err: unknown) => log.error({ err }, 'closing the HTTP server failed'));
          await rehearsalsStopped;
          log.info({ phase: 'resources' }, 'stopping: samplers and connections');
          await closeAll();
        })()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
