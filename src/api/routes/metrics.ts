import type { FastifyInstance } from 'fastify';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus, type MetricsCollector } from '../../metrics/prometheus.js';

/**
 * `GET /metrics` in the Prometheus text format, from every collector the service
 * has. Open, or for viewer tokens when the configuration says so
 * (`auth.metricsRequireToken`).
 */
export async function metricsRoutes(
  app: FastifyInstance,
  options: { collectors: MetricsCollector[]; requireToken: boolean },
): Promise<void> {
  app.get(
    '/metrics',
    {
      config: { access: options.requireToken ? 'viewer' : 'none' },
      schema: { tags: ['metrics'], summary: 'Prometheus metrics (text exposition format 0.0.4)' },
    },
    async (_request, reply) => {
      const families = (await Promise.all(options.collectors.map((c) => c.collect()))).flat();
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(renderPrometheus(families));
    },
  );
}
