import Type from 'typebox';
import { PairIdSchema, RoleSchema } from '../config/schema.js';
import { PairViewSchema } from '../shift/view.js';
import { ReplicationViewSchema } from '../shift/view-schemas.js';
import { SplitSchema } from '../shift/model.js';
import { StageSchema } from '../shift/stages.js';
import { AuditEventSchema, IntentSchema, TransitionKindSchema } from '../shift/state.js';

/**
 * The API's shared schemas, in one place: the error envelope every error answer has,
 * the pair route parameter, and the answers more than one client reads (the CLI types
 * its answers from these; the dashboard will too). Route-specific inputs stay with
 * their routes.
 */

/** Every error answer: `{ error: { code, message, details? } }`; `code` is stable (`PGSHIFT_ERR_...`). */
export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'stable error code, e.g. PGSHIFT_ERR_PAIR_NOT_FOUND' }),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { description: 'an error' },
);
export type ErrorBody = Type.Static<typeof ErrorBodySchema>;

/** The error answers of a route, each with the envelope: `errorResponses(400, 404)`. */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ErrorBodySchema } {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBodySchema])) as { [K in S[number]]: typeof ErrorBodySchema };
}

/** A pair's id in a path: the rule of `pairs[].id` in the configuration. */
export { PairIdSchema };

/** `/api/v1/pairs/:pair/...` */
export const PairParamsSchema = Type.Object({ pair: PairIdSchema }, { additionalProperties: false });

/** The query of a route that takes none: a stray `?phase=` or `?wait=` is refused, not ignored. */
export const NoQuerySchema = Type.Object({}, { additionalProperties: false });

/** Who holds the leader lease, as this process last saw it. */
export const LeaderSchema = Type.Object({
  self: Type.Boolean({ description: 'this process leads' }),
  instance: Type.String({ description: 'this process' }),
  holder: Type.Union([Type.String(), Type.Null()]),
  since: Type.Union([Type.Number(), Type.Null()]),
  seenAt: Type.Union([Type.Number(), Type.Null()]),
});
export type Leader = Type.Static<typeof LeaderSchema>;

const WeightsOrNullSchema = Type.Union([
  Type.Object({ reader: Type.Union([SplitSchema, Type.Null()]), writer: Type.Union([SplitSchema, Type.Null()]) }),
  Type.Null(),
]);

/** `GET /api/v1/pairs`: every pair in brief, and who leads. */
export const PairListSchema = Type.Object({
  pairs: Type.Array(
    Type.Object({
      id: Type.String(),
      stage: StageSchema,
      paused: Type.Boolean(),
      halted: Type.Boolean(),
      weights: WeightsOrNullSchema,
      observed: WeightsOrNullSchema,
      transition: Type.Union([Type.Object({ to: StageSchema, kind: TransitionKindSchema }), Type.Null()]),
      haltReason: Type.Union([Type.String(), Type.Null()]),
      replication: Type.Union([ReplicationViewSchema, Type.Null()]),
      signals: Type.Object({
        healthy: Type.Integer(),
        breached: Type.Integer(),
        unknown: Type.Integer(),
        reverting: Type.Integer({ description: 'signals that send traffic back to blue now' }),
      }),
      lastEvent: Type.Union([AuditEventSchema, Type.Null()]),
    }),
  ),
  leader: LeaderSchema,
});
export type PairList = Type.Static<typeof PairListSchema>;

/** `GET /api/v1/pairs/:pair`: the controller's read model of the pair, and who leads. */
export const PairDetailSchema = Type.Object({ ...PairViewSchema.properties, leader: LeaderSchema });
export type PairDetail = Type.Static<typeof PairDetailSchema>;

/** The answer to prepare, advance, revert, pause, resume and GET .../intents/:intent: the intent, and the pair once carried out (requests that waited). */
export const IntentAnswerSchema = Type.Object({ intent: IntentSchema, pair: Type.Optional(PairViewSchema) });
export type IntentAnswer = Type.Static<typeof IntentAnswerSchema>;

/** `GET /api/v1/pairs/:pair/events`: a page of the audit log, newest first. */
export const EventsPageSchema = Type.Object({
  events: Type.Array(AuditEventSchema),
  nextBefore: Type.Union([Type.Integer(), Type.Null()], { description: 'pass as ?before= for the next page; null on the last' }),
});
export type EventsPage = Type.Static<typeof EventsPageSchema>;

/** Who the browser is signed in as; `csrfToken` goes back in `x-pgshift-csrf` on every mutating call. */
export const SessionViewSchema = Type.Object({
  actor: Type.String(),
  role: RoleSchema,
  csrfToken: Type.Union([Type.String(), Type.Null()], { description: 'null when the caller used a bearer token' }),
  expiresAt: Type.Union([Type.Number({ description: 'epoch ms' }), Type.Null()]),
});
