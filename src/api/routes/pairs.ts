import type { FastifyInstance, FastifyReply } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import { PgshiftError } from '../../errors.js';
import type { ShiftController } from '../../shift/controller.js';
import type { Intent, IntentAction } from '../../shift/state.js';
import type { ShiftStore } from '../../shift/store.js';
import { StageSchema } from '../../shift/stages.js';
import { errorResponses, EventsPageSchema, IntentAnswerSchema, NoQuerySchema, PairDetailSchema, PairListSchema, PairParamsSchema } from '../schemas.js';

const WaitQuerySchema = Type.Object(
  { wait: Type.Boolean({ default: true, description: 'wait (up to 30 s) until the loop has carried the request out' }) },
  { additionalProperties: false },
);

const AdvanceBodySchema = Type.Object(
  { expectedStage: Type.Optional(StageSchema), reason: Type.Optional(Type.String({ maxLength: 500 })) },
  { additionalProperties: false },
);
const ReasonBodySchema = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false });
const FinalizeBodySchema = Type.Object(
  {
    confirm: Type.Literal(true, { description: 'true: closing the way back to blue is meant (reverse replication stops; a revert is no longer possible)' }),
    ignoreRollbackWindow: Type.Optional(Type.Boolean({ description: 'close it before cutover.rollbackWindowSeconds have passed at green' })),
    reason: Type.Optional(Type.String({ maxLength: 500 })),
  },
  { additionalProperties: false },
);

const IntentParamsSchema = Type.Object(
  { ...PairParamsSchema.properties, intent: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$', description: 'the id a request answered with' }) },
  { additionalProperties: false },
);

const EventsQuerySchema = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: D.EVENTS_PAGE_MAX, default: D.EVENTS_PAGE_DEFAULT }),
    before: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  { additionalProperties: false },
);

/**
 * The pairs API: read a pair, ask it to prepare green, advance, revert, pause or resume. Mutations are
 * recorded intents; the call waits (bounded) for the controller's loop to carry them out,
 * so an operator gets the outcome, not just an acknowledgement. Every route's input is
 * schema-checked (unknown fields included) before a handler runs.
 */
export async function pairRoutes(app: FastifyInstance, options: { controller: ShiftController; store: ShiftStore }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const { controller, store } = options;
  const mutation = {
    access: 'operator' as const,
    rateLimit: { max: D.MUTATION_RATE_LIMIT_PER_MINUTE, timeWindow: '1 minute' },
  };

  api.get(
    '/api/v1/pairs',
    {
      config: { access: 'viewer' },
      schema: { tags: ['pairs'], summary: 'Every pair with its stage and weights', security: [{ bearer: [] }], response: { 200: PairListSchema } },
    },
    async () => {
      const pairs = await Promise.all(
        controller.pairIds().map(async (id) => {
          const [view, latest] = await Promise.all([controller.view(id), store.listEvents(id, { limit: 1 })]);
          const count = (state: string) => view.signals.filter((s) => s.state === state).length;
          return {
            id,
            stage: view.stage,
            paused: view.paused,
            halted: view.halted,
            weights: view.weights,
            observed: view.observed,
            transition: view.transition ? { to: view.transition.to, kind: view.transition.kind } : null,
            haltReason: view.haltReason,
            replication: view.replication,
            signals: { healthy: count('healthy'), breached: count('breached'), unknown: count('unknown'), reverting: view.signals.filter((s) => s.reverts).length },
            lastEvent: latest.events[0] ?? null,
          };
        }),
      );
      return { pairs, leader: await controller.leader() };
    },
  );

  api.get(
    '/api/v1/pairs/:pair',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['pairs'],
        summary: 'A pair: stage, desired and observed weights, clusters, replication, signals, guards',
        params: PairParamsSchema,
        security: [{ bearer: [] }],
        response: { 200: PairDetailSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => ({ ...(await controller.view(request.params.pair)), leader: await controller.leader() }),
  );

  const act = (action: IntentAction, summary: string, body: typeof AdvanceBodySchema | typeof ReasonBodySchema | typeof FinalizeBodySchema) =>
    api.post(
      `/api/v1/pairs/:pair/${action}`,
      {
        config: mutation,
        bodyLimit: D.MUTATION_BODY_LIMIT_BYTES,
        schema: {
          tags: ['pairs'],
          summary,
          params: PairParamsSchema,
          querystring: WaitQuerySchema,
          body: body === FinalizeBodySchema ? body : Type.Optional(body),
          security: [{ bearer: [] }],
          response: { 200: IntentAnswerSchema, 202: IntentAnswerSchema, ...errorResponses(400, 404, 409, 502) },
        },
      },
      async (request, reply) => {
        const input = (request.body ?? {}) as { expectedStage?: string; reason?: string; ignoreRollbackWindow?: boolean; confirm?: boolean };
        // The validator lets a POST without a body through as an empty one: finalize's confirm is checked here too.
        if (action === 'finalize' && input.confirm !== true) {
          throw new PgshiftError('PGSHIFT_ERR_BAD_REQUEST', 'finalize needs the body {"confirm": true}: it closes the way back to blue for good', { status: 400 });
        }
        const intent = await controller.request(request.params.pair, action, {
          actor: request.actor ?? 'unknown',
          expectedStage: input.expectedStage,
          reason: input.reason,
          ignoreRollbackWindow: input.ignoreRollbackWindow,
        });
        if (!request.query.wait) return reply.status(202).send({ intent });
        return answer(reply, controller, await controller.waitForIntent(intent.id, D.INTENT_WAIT_MS));
      },
    );

  act('prepare', 'Make green ready: preflight, roles, databases, schema, publication, subscription, initial copy (202 while it runs; progress in the pair view)', ReasonBodySchema);
  act('advance', 'Move the pair one stage forward (409 with the failing guards when it cannot); from the last read stage, the write cutover to green', AdvanceBodySchema);
  act(
    'revert',
    'Send traffic back to blue (baseline); from green, the write cutover run back with nothing lost; during a preparation or a cutover before its flip, give it up and undo it',
    ReasonBodySchema,
  );
  act('finalize', 'Close the way back at green: reverse replication and pgshift\'s publications and heartbeats removed, blue left frozen (needs confirm: true, and the rollback window passed unless ignoreRollbackWindow)', FinalizeBodySchema);
  act('pause', 'Stop automatic advancing; auto-revert stays armed', ReasonBodySchema);
  act('resume', 'Clear a pause, or the halt an auto-revert left', ReasonBodySchema);

  api.get(
    '/api/v1/pairs/:pair/intents/:intent',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['pairs'],
        summary: 'One request and where it stands: pending, done, rejected (with the reasons) or failed',
        params: IntentParamsSchema,
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 200: IntentAnswerSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      controller.requirePair(request.params.pair);
      // Ids are stored lowercase; an id typed in capitals is the same id (as PostgreSQL's uuid reads it).
      const intent = await store.getIntent(request.params.intent.toLowerCase());
      if (!intent || intent.pair !== request.params.pair) {
        throw new PgshiftError('PGSHIFT_ERR_INTENT_NOT_FOUND', `pair ${request.params.pair} has no intent ${request.params.intent}`, { status: 404 });
      }
      return { intent };
    },
  );

  api.get(
    '/api/v1/pairs/:pair/events',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['pairs'],
        summary: 'The audit log of a pair, newest first',
        params: PairParamsSchema,
        querystring: EventsQuerySchema,
        security: [{ bearer: [] }],
        response: { 200: EventsPageSchema, ...errorResponses(400, 404) },
      },
    },
    async (request) => {
      controller.requirePair(request.params.pair);
      return store.listEvents(request.params.pair, { limit: request.query.limit, before: request.query.before });
    },
  );
}

async function answer(reply: FastifyReply, controller: ShiftController, intent: Intent) {
  switch (intent.status) {
    case 'pending':
      return reply.status(202).send({ intent });
    case 'done':
      return reply.status(200).send({ intent, pair: await controller.view(intent.pair) });
    case 'rejected': {
      const result = (intent.result ?? {}) as { reason?: string; details?: unknown };
      throw new PgshiftError('PGSHIFT_ERR_REJECTED', result.reason ?? `${intent.action} was refused`, {
        status: 409,
        details: { intent, ...(result.details ? { reasons: result.details } : {}) },
      });
    }
    case 'failed':
      throw new PgshiftError('PGSHIFT_ERR_TRANSITION_FAILED', `${intent.action} did not complete and was rolled back`, {
        status: 502,
        details: { intent },
      });
  }
}
