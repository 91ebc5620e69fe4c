import type { FastifyInstance } from 'fastify';
import type { ReadinessCheck } from '../services.js';

/**
 * Liveness says the process answers; readiness says it can do its job: every check
 * (state store reachable, leadership known, ...) passes. Both are unauthenticated so
 * that load balancers and ECS can call them.
 */
export async function healthRoutes(app: FastifyInstance, options: { checks: ReadinessCheck[] }): Promise<void> {
  app.get('/healthz', { config: { access: 'none' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { access: 'none' } }, async (_request, reply) => {
    const results = await Promise.all(
      options.checks.map(async (check) => {
        try {
          const detail = await check.run();
          return { name: check.name, ok: true, ...(detail ? { detail } : {}) };
        } catch (err) {
          return { name: check.name, ok: false, detail: (err as Error).message };
        }
      }),
    );
    const ready = results.every((r) => r.ok);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', checks: results });
  });
}
