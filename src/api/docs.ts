import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export const DOCS_PREFIX = '/docs';

/** The OpenAPI document (from the routes' own schemas) and its UI at /docs. */
export const docs = fp(
  async (app: FastifyInstance, options: { version: string }) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'pgshift',
          description:
            'Blue/green PostgreSQL major-version upgrades with gradual traffic shifting. Send `Authorization: Bearer <token>`; viewers read, operators act.',
          version: options.version,
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
    });
    await app.register(swaggerUi, { routePrefix: DOCS_PREFIX });
  },
  { name: 'pgshift-docs' },
);
