import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Role, TokenConfig } from '../config/schema.js';
import type { ErrorBody } from './schemas.js';

/** What a route requires; `none` for health and (optionally) metrics. */
export type Access = Role | 'none';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyRequest {
    /** The name of the token that authenticated the request, for the audit log. */
    actor: string | null;
    role: Role | null;
  }
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2 };

interface KnownToken {
  name: string;
  role: Role;
  hash: Buffer;
}

/**
 * Bearer tokens, configured as SHA-256 hashes with a role: viewers read, operators
 * also act. Every route declares its access in `config.access`; a route without one is
 * refused, so a forgotten declaration fails closed. 401 without a valid token, 403
 * with a token of too small a role.
 */
export const auth = fp(
  async (app: FastifyInstance, options: { tokens: TokenConfig[]; publicPrefixes: string[] }) => {
    const known: KnownToken[] = options.tokens.map((t) => ({ name: t.name, role: t.role, hash: Buffer.from(t.sha256, 'hex') }));
    app.decorateRequest('actor', null);
    app.decorateRequest('role', null);

    app.addHook('onRequest', async (request, reply) => {
      const access = request.routeOptions.config?.access;
      if (access === 'none') return;
      const url = request.routeOptions.url;
      if (url !== undefined && options.publicPrefixes.some((prefix) => url === prefix || url.startsWith(`${prefix}/`))) return;
      if (access === undefined) {
        // Routes that do not exist reach the 404 handler; routes without a declaration are a bug.
        if (url === undefined) return;
        return deny(reply, 403, 'PGSHIFT_ERR_FORBIDDEN', 'this route declares no access level');
      }
      const token = bearer(request);
      const match = token === null ? undefined : findToken(known, token);
      if (!match) {
        reply.header('www-authenticate', 'Bearer realm="pgshift"');
        return deny(reply, 401, 'PGSHIFT_ERR_UNAUTHORIZED', token === null ? 'a bearer token is required' : 'the bearer token is not valid');
      }
      request.actor = match.name;
      request.role = match.role;
      if (RANK[match.role] < RANK[access]) {
        return deny(reply, 403, 'PGSHIFT_ERR_FORBIDDEN', `this needs the ${access} role; token "${match.name}" is a ${match.role}`);
      }
    });
  },
  { name: 'pgshift-auth' },
);

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

function findToken(known: KnownToken[], token: string): KnownToken | undefined {
  const hash = createHash('sha256').update(token).digest();
  // Compare against every configured hash, so the time taken says nothing about which matched.
  let found: KnownToken | undefined;
  for (const candidate of known) {
    if (candidate.hash.length === hash.length && timingSafeEqual(candidate.hash, hash)) found = candidate;
  }
  return found;
}

function deny(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.status(status).send({ error: { code, message } } satisfies ErrorBody);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
