import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isPgshiftError } from '../errors.js';
import type { ErrorBody } from './schemas.js';

/**
 * One error shape for the whole API: `{ error: { code, message, details? } }`
 * (ErrorBodySchema in schemas.ts, which every route declares for its error answers).
 * Client mistakes keep their status and reason; anything else is a 500 whose
 * internals stay in the log, never in the answer.
 */
export const errorHandler = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (isPgshiftError(err)) {
        if (err.status >= 500) request.log.error({ err }, err.message);
        const body: ErrorBody = { error: { code: err.code, message: err.message } };
        if (err.details !== undefined) body.error.details = err.details;
        return reply.status(err.status).send(body);
      }
      if (err.validation) {
        return reply.status(400).send({
          error: {
            code: 'PGSHIFT_ERR_BAD_REQUEST',
            message: err.message,
            details: err.validation.map((v) => ({ path: v.instancePath, message: v.message })),
          },
        } satisfies ErrorBody);
      }
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        return reply.status(status).send({
          error: { code: clientErrorCode(status, err.code), message: err.message },
        } satisfies ErrorBody);
      }
      request.log.error({ err }, 'unhandled error');
      return reply.status(500).send({
        error: { code: 'PGSHIFT_ERR_INTERNAL', message: 'internal error; see the service log' },
      } satisfies ErrorBody);
    });

    app.setNotFoundHandler((request, reply) =>
      reply.status(404).send({
        error: { code: 'PGSHIFT_ERR_NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
      } satisfies ErrorBody),
    );
  },
  { name: 'pgshift-error-handler' },
);

function clientErrorCode(status: number, fastifyCode: string | undefined): string {
  switch (status) {
    case 413:
      return 'PGSHIFT_ERR_BODY_TOO_LARGE';
    case 415:
      return 'PGSHIFT_ERR_UNSUPPORTED_MEDIA_TYPE';
    case 429:
      return 'PGSHIFT_ERR_RATE_LIMITED';
    default:
      return fastifyCode === 'FST_ERR_CTP_INVALID_JSON_BODY' || fastifyCode?.startsWith('FST_ERR_CTP')
        ? 'PGSHIFT_ERR_BAD_REQUEST'
        : `PGSHIFT_ERR_HTTP_${status}`;
  }
}
