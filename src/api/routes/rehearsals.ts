import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import type { RehearsalService } from '../../rehearsal/service.js';
import { RehearsalRecordSchema, RehearsalRequestSchema } from '../../rehearsal/store.js';
import { errorResponses, NoQuerySchema, PairIdSchema } from '../schemas.js';

const RehearsalParamsSchema = Type.Object({ pair: PairIdSchema, id: Type.String({ pattern: '^[a-z0-9]{1,32}$' }) }, { additionalProperties: false });
const PairOnlySchema = Type.Object({ pair: PairIdSchema }, { additionalProperties: false });

/**
 * Rehearsals over HTTP: an operator starts one (202, it runs in the background) or
 * cancels it; viewers read it (status, step, copy percentage and, when done, the
 * report). Thin: the service refuses a second one for the pair (409) and unknown
 * pairs or ids (404).
 */
export async function rehearsalRoutes(app: FastifyInstance, options: { service: RehearsalService }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { service } = options;
  const mutation = { access: 'operator' as const, rateLimit: { max: D.MUTATION_RATE_LIMIT_PER_MINUTE, timeWindow: '1 minute' } };

  api.post(
    '/api/v1/pairs/:pair/rehearsals',
    {
      config: mutation,
      schema: {
        tags: ['rehearsals'],
        summary: "Start a rehearsal: staging copies of blue (from a snapshot) and green, preflight, the preparation with the initial copy, the queries compared; torn down at the end",
        params: PairOnlySchema,
        querystring: NoQuerySchema,
        body: RehearsalRequestSchema,
        security: [{ bearer: [] }],
        response: { 202: RehearsalRecordSchema, ...errorResponses(400, 404, 409) },
      },
    },
    async (request, reply) => {
      const record = await service.start(request.params.pair, request.body ?? {}, request.actor ?? 'unknown');
      return reply.code(202).send(record);
    },
  );

  api.get(
    '/api/v1/pairs/:pair/rehearsals/latest',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['rehearsals'],
        summary: "The pair's newest rehearsal",
        params: PairOnlySchema,
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 200: RehearsalRecordSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => service.last(request.params.pair),
  );

  api.get(
    '/api/v1/pairs/:pair/rehearsals/:id',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['rehearsals'],
        summary: 'One rehearsal: status, step, copy percentage, and its report when done',
        params: RehearsalParamsSchema,
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 200: RehearsalRecordSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => service.get(request.params.pair, request.params.id),
  );

  api.post(
    '/api/v1/pairs/:pair/rehearsals/:id/cancel',
    {
      config: mutation,
      schema: {
        tags: ['rehearsals'],
        summary: 'Cancel a running rehearsal; its staging clusters are still removed',
        params: RehearsalParamsSchema,
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 202: RehearsalRecordSchema, ...errorResponses(400, 404, 409) },
      },
    },
    async (request, reply) => reply.code(202).send(await service.cancel(request.params.pair, request.params.id)),
  );
}
