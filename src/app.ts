import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorHandler } from './api/error-handler.js';
import { healthRoutes } from './api/health.js';
import type { Services } from './services.js';

export const BODY_LIMIT_BYTES = 64 * 1024;

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/**
 * The whole HTTP app as one Fastify instance, built without listening so that tests can
 * `inject` requests. The process around it (signals, listen, shutdown) is server.ts.
 */
export async function buildApp(services: Services): Promise<App> {
  const app = Fastify({
    loggerInstance: services.log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>();

  await app.register(errorHandler);
  await app.register(healthRoutes, { checks: services.readiness });
  return app;
}
