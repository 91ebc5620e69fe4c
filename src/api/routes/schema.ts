import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import { describeError } from '../../errors.js';
import type { SchemaSyncService } from '../../services.js';
import type { ShiftStore } from '../../shift/store.js';
import { errorResponses, PairParamsSchema } from '../schemas.js';

const SyncBodySchema = Type.Object(
  { apply: Type.Optional(Type.Boolean({ default: false, description: 'run the DDL on green and refresh the subscription; false (the default) only shows it' })) },
  { additionalProperties: false },
);

export const SchemaSyncReportSchema = Type.Object({
  applied: Type.Boolean({ description: 'false: a dry run, nothing changed' }),
  databases: Type.Array(
    Type.Object({
      database: Type.String(),
      statements: Type.Array(Type.String(), { description: 'DDL for green, in the order it runs (or ran)' }),
      newTables: Type.Array(Type.String(), { description: 'tables the subscription refresh copies in' }),
      manual: Type.Array(Type.Object({ difference: Type.String(), sql: Type.String() }), { description: 'what pgshift does not repair (drops, type changes, renames, views, functions): SQL for a person to check and run' }),
      applied: Type.Boolean(),
      refreshed: Type.Boolean({ description: "green's subscription was refreshed (copy_data = true)" }),
    }),
  ),
});

/** `POST /api/v1/pairs/:pair/schema/sync`: operators only, rate limited, audited. */
export async function schemaRoutes(app: FastifyInstance, options: { service: SchemaSyncService; store: ShiftStore }): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  api.post(
    '/api/v1/pairs/:pair/schema/sync',
    {
      config: { access: 'operator', rateLimit: { max: D.MUTATION_RATE_LIMIT_PER_MINUTE, timeWindow: '1 minute' } },
      bodyLimit: D.MUTATION_BODY_LIMIT_BYTES,
      schema: {
        tags: ['schema'],
        summary: "Create on green what blue's schema has and green's lacks (new tables, columns, sequences, indexes) and refresh the subscription; a dry run unless apply is true",
        params: PairParamsSchema,
        body: Type.Optional(SyncBodySchema),
        security: [{ bearer: [] }],
        response: { 200: SchemaSyncReportSchema, ...errorResponses(400, 404, 502, 503) },
      },
    },
    async (request) => {
      const apply = request.body?.apply === true;
      const pair = request.params.pair;
      const record = (outcome: 'ok' | 'failed', reason: string, details: unknown) =>
        options.store.recordEvent({ pair, actor: request.actor ?? 'unknown', action: 'schema-sync', fromStage: null, toStage: null, outcome, reason, details }, Date.now());
      try {
        const report = await options.service.sync(pair, { apply });
        const statements = report.databases.reduce((n, d) => n + d.statements.length, 0);
        const manual = report.databases.reduce((n, d) => n + d.manual.length, 0);
        if (apply) await record('ok', `${statements} statement(s) applied to green, ${manual} difference(s) left for a person`, report);
        return report;
      } catch (err) {
        if (apply) await record('failed', describeError(err), null).catch(() => {});
        throw err;
      }
    },
  );
}
