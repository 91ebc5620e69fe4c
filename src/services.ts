import type { Config } from './config/schema.js';
import type { Logger } from './log.js';

/** One named readiness condition; resolves (optionally with a detail) or throws why not. */
export interface ReadinessCheck {
  name: string;
  run(): Promise<string | void>;
}

/**
 * Everything the HTTP app needs, built by main.ts. Tests build their own, with real
 * adapters against the lab or in-memory ports, and pass it to buildApp.
 */
export interface Services {
  config: Config;
  log: Logger;
  readiness: ReadinessCheck[];
}
