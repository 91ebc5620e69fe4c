import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import { PgshiftError } from '../../errors.js';
import { AppMetricsPushSchema } from '../../signals/app-metrics.js';
import type { PairSignals } from '../../signals/pair-signals.js';
import type { SignalRegistry } from '../../signals/registry.js';
import { errorResponses, PairIdSchema, PairParamsSchema } from '../schemas.js';

const HistoryParamsSchema = Type.Object(
  {
    pair: PairIdSchema,
    signal: Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9_.:]+$' }),
  },
  { additionalProperties: false },
);

const HistoryQuerySchema = Type.Object(
  { n: Type.Integer({ minimum: 1, maximum: D.SIGNAL_HISTORY_SIZE, default: 60 }) },
  { additionalProperties: false },
);

const MeasurementSchema = Type.Object({
  value: Type.Union([Type.Number(), Type.Null()]),
  at: Type.Number({ description: 'epoch ms' }),
  error: Type.Optional(Type.String()),
  detail: Type.Optional(Type.Unknown()),
});

const SignalSnapshotSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  side: Type.Union([Type.Literal('blue'), Type.Literal('green'), Type.Null()]),
  limit: Type.Object({
    max: Type.Number(),
    consecutiveBreaches: Type.Integer(),
    consecutiveErrors: Type.Integer(),
    maxAgeMs: Type.Number(),
  }),
  measurement: Type.Union([MeasurementSchema, Type.Null()]),
  assessment: Type.Object({
    status: Type.Union([Type.Literal('healthy'), Type.Literal('breached'), Type.Literal('unknown')]),
    consecutiveBreaches: Type.Integer(),
    consecutiveErrors: Type.Integer(),
    value: Type.Union([Type.Number(), Type.Null()]),
    reverts: Type.Boolean({ description: 'this signal sends traffic back to blue now' }),
    limit: Type.Number({ description: 'the limit the newest value was held to (tighter than max when relative to blue)' }),
    control: Type.Union([Type.Number(), Type.Null()], { description: "blue's value the newest reading was compared with" }),
    reason: Type.String(),
  }),
  samples: Type.Integer(),
  failedSamples: Type.Integer(),
});

const AcceptedSchema = Type.Object({
  pair: Type.String(),
  accepted: Type.Object({ requests: Type.Integer(), errors: Type.Integer() }),
});

/**
 * Signals over HTTP. Applications push their own error and request counts (operator
 * tokens: a push can trigger an auto-revert); viewers read each signal's newest
 * measurement and assessment, and a signal's recent history, for the dashboard.
 */
export async function signalRoutes(app: FastifyInstance, options: { registry: SignalRegistry }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const pairSignals = (pair: string): PairSignals => {
    const found = options.registry.get(pair);
    if (!found) throw new PgshiftError('PGSHIFT_ERR_PAIR_NOT_FOUND', `no pair "${pair}"`, { status: 404 });
    return found;
  };

  api.post(
    '/api/v1/pairs/:pair/signals',
    {
      config: { access: 'operator' },
      schema: {
        tags: ['signals'],
        summary: "Push the application's error and request counts since its previous push",
        params: PairParamsSchema,
        body: AppMetricsPushSchema,
        security: [{ bearer: [] }],
        response: { 202: AcceptedSchema, ...errorResponses(400, 404) },
      },
    },
    async (request, reply) => {
      const signals = pairSignals(request.params.pair);
      if (request.body === undefined) {
        throw new PgshiftError('PGSHIFT_ERR_BAD_REQUEST', 'a JSON body { requests, errors } is required', { status: 400 });
      }
      signals.pushAppMetrics(request.body);
      return reply.status(202).send({
        pair: request.params.pair,
        accepted: { requests: request.body.requests, errors: request.body.errors },
      });
    },
  );

  api.get(
    '/api/v1/pairs/:pair/signals',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['signals'],
        summary: "Every signal of the pair: newest measurement, limit and assessment",
        params: PairParamsSchema,
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ pair: Type.String(), signals: Type.Array(SignalSnapshotSchema) }), ...errorResponses(400, 404) },
      },
    },
    async (request) => ({ pair: request.params.pair, signals: pairSignals(request.params.pair).latest() }),
  );

  api.get(
    '/api/v1/pairs/:pair/signals/:signal/history',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['signals'],
        summary: 'The newest n measurements of one signal, oldest first',
        params: HistoryParamsSchema,
        querystring: HistoryQuerySchema,
        security: [{ bearer: [] }],
        response: {
          200: Type.Object({ pair: Type.String(), signal: Type.String(), measurements: Type.Array(MeasurementSchema) }),
          ...errorResponses(400, 404),
        },
      },
    },
    async (request) => {
      const history = pairSignals(request.params.pair).history(request.params.signal, request.query.n);
      if (!history) {
        throw new PgshiftError('PGSHIFT_ERR_SIGNAL_NOT_FOUND', `pair "${request.params.pair}" has no signal "${request.params.signal}"`, {
          status: 404,
        });
      }
      return { pair: request.params.pair, signal: request.params.signal, measurements: history };
    },
  );
}
