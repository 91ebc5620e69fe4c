import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import { PgshiftError } from '../../errors.js';
import { PreflightPhaseSchema, PreflightReportSchema } from '../../preflight/report.js';
import type { PreflightService } from '../../preflight/service.js';
import { errorResponses, NoQuerySchema, PairParamsSchema } from '../schemas.js';

/** `?phase=prepare` checks an empty green before pgshift's prepare step fills it; default `prepared`. */
const RunQuerySchema = Type.Object({ phase: Type.Optional(PreflightPhaseSchema) }, { additionalProperties: false });

/**
 * Preflight over HTTP: run the checks of a pair (operators; they connect to both
 * clusters, so the call is rate limited) and read the last report (viewers). Thin:
 * the service does the work, unknown pairs come back from it as 404.
 */
export async function preflightRoutes(app: FastifyInstance, options: { service: PreflightService }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { service } = options;
  const responses = { 200: PreflightReportSchema, ...errorResponses(400, 404) };

  api.post(
    '/api/v1/pairs/:pair/preflight',
    {
      config: { access: 'operator', rateLimit: { max: D.MUTATION_RATE_LIMIT_PER_MINUTE, timeWindow: '1 minute' } },
      schema: {
        tags: ['preflight'],
        summary: 'Run every preflight check on the pair and answer the report (ok = no blocker)',
        params: PairParamsSchema,
        querystring: RunQuerySchema,
        security: [{ bearer: [] }],
        response: responses,
      },
    },
    async (request) => service.run(request.params.pair, request.query.phase ? { phase: request.query.phase } : {}),
  );

  api.get(
    '/api/v1/pairs/:pair/preflight',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['preflight'],
        summary: 'The last preflight report of the pair',
        params: PairParamsSchema,
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: responses,
      },
    },
    async (request) => {
      const report = await service.last(request.params.pair);
      if (!report) {
        throw new PgshiftError('PGSHIFT_ERR_PREFLIGHT_NOT_RUN', `no preflight report for pair "${request.params.pair}" yet: POST /api/v1/pairs/${request.params.pair}/preflight runs one`, {
          status: 404,
        });
      }
      return report;
    },
  );
}
