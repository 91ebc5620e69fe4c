import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import cookie from '@fastify/cookie';
import rateLimit from '@fastify/rate-limit';
import { auth } from './api/auth.js';
import { docs, DOCS_PREFIX } from './api/docs.js';
import { errorHandler } from './api/error-handler.js';
import type { ErrorBody } from './api/schemas.js';
import { healthRoutes } from './api/health.js';
import { pairRoutes } from './api/routes/pairs.js';
import { preflightRoutes } from './api/routes/preflight.js';
import { rehearsalRoutes } from './api/routes/rehearsals.js';
import { schemaRoutes } from './api/routes/schema.js';
import { metricsRoutes } from './api/routes/metrics.js';
import { signalRoutes } from './api/routes/signals.js';
import { signalMetrics } from './signals/metrics.js';
import { streamRoutes } from './api/routes/stream.js';
import { sessionRoutes } from './api/routes/session.js';
import { dashboardRoutes } from './api/routes/dashboard.js';
import { validatorCompiler } from './api/validator.js';
import type { Services } from './services.js';

export const BODY_LIMIT_BYTES = 64 * 1024;
export const API_VERSION = '1.0.0';

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
    trustProxy: services.config.service.trustProxy,
    // Closing ends every connection, keep-alives and requests still waiting included: by
    // then the controller has stopped and the standby leads, and a stop must end within
    // the container's stop timeout (event streams are ended in their own preClose).
    forceCloseConnections: true,
    // A URL the router cannot decode (`/api/v1/pairs/%E0%A4%A`) gets the API's error shape too.
    frameworkErrors: (err, _request, reply) => {
      const body: ErrorBody = { error: { code: 'PGSHIFT_ERR_BAD_REQUEST', message: err.message } };
      void (reply as FastifyReply).status(400).send(body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  // JSON only: anything else is a 415, not a string for the schema to puzzle over.
  app.removeContentTypeParser('text/plain');

  await app.register(errorHandler);
  await app.register(docs, { version: API_VERSION });
  await app.register(cookie);
  const now = () => Date.now();
  const { tokens, sessionTtlSeconds } = services.config.auth;
  await app.register(auth, { tokens, publicPrefixes: [DOCS_PREFIX], now, ...(services.sessions ? { sessions: services.sessions } : {}) });
  // After authentication, so that limits are per token rather than per address.
  await app.register(rateLimit, { global: false, hook: 'preHandler', keyGenerator: (request) => request.actor ?? request.ip });
  if (services.sessions) await app.register(sessionRoutes, { tokens, sessions: services.sessions, ttlSeconds: sessionTtlSeconds, now });
  await app.register(healthRoutes, { checks: services.readiness });
  if (services.shift) {
    await app.register(pairRoutes, { controller: services.shift.controller, store: services.shift.store });
    await app.register(streamRoutes, services.shift);
  }
  if (services.preflight) await app.register(preflightRoutes, { service: services.preflight });
  if (services.rehearsals) await app.register(rehearsalRoutes, { service: services.rehearsals });
  if (services.schemaSync && services.shift) await app.register(schemaRoutes, { service: services.schemaSync, store: services.shift.store });
  if (services.signals) await app.register(signalRoutes, { registry: services.signals });
  await app.register(metricsRoutes, {
    collectors: [...(services.signals ? [signalMetrics(services.signals)] : []), ...(services.metrics ?? [])],
    requireToken: services.config.auth.metricsRequireToken,
  });
  await app.register(dashboardRoutes);
  return app;
}
