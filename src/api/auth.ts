import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Role, TokenConfig } from '../config/schema.js';
import { PgshiftError } from '../errors.js';
import type { ErrorBody } from './schemas.js';
import type { Session, SessionStore } from '../store/session-store.js';
import { hashSessionId, SESSION_COOKIE } from './sessions.js';
import { CSRF_HEADER } from './wire.js';

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
    /** The dashboard session the request came with, when it used the cookie rather than a bearer token. */
    session: Session | null;
  }
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2 };

export interface KnownToken {
  name: string;
  role: Role;
  hash: Buffer;
}

export interface AuthOptions {
  tokens: TokenConfig[];
  publicPrefixes: string[];
  /** Dashboard sessions; without them only bearer tokens authenticate. */
  sessions?: SessionStore;
  now: () => number;
}

/** Methods that change nothing, so a cookie-authenticated request needs no CSRF token for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bearer tokens, configured as SHA-256 hashes with a role: viewers read, operators
 * also act. A browser signed in to the dashboard presents its session cookie instead,
 * with the session's CSRF token on anything that is not a read. Every route declares
 * its access in `config.access`; a route without one is refused, so a forgotten
 * declaration fails closed. 401 without a valid token or session, 403 with too small a
 * role or a missing CSRF token.
 */
export const auth = fp(
  async (app: FastifyInstance, options: AuthOptions) => {
    const known = knownTokens(options.tokens);
    app.decorateRequest('actor', null);
    app.decorateRequest('role', null);
    app.decorateRequest('session', null);

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
      const cookie = token === null && options.sessions ? request.cookies[SESSION_COOKIE] : undefined;
      let match: KnownToken | undefined;
      if (cookie !== undefined && options.sessions) {
        const session = await findSession(options.sessions, cookie, options.now());
        // The token's current entry decides: a session ends when its token is removed, and follows a role change.
        match = session ? known.find((k) => k.hash.toString('hex') === session.tokenSha256) : undefined;
        if (!session || !match) return deny(reply, 401, 'PGSHIFT_ERR_UNAUTHORIZED', 'the session has ended: sign in again');
        if (!SAFE_METHODS.has(request.method) && !sameSecret(request.headers[CSRF_HEADER], session.csrfToken)) {
          return deny(reply, 403, 'PGSHIFT_ERR_CSRF', `a signed-in browser must send its session's CSRF token in ${CSRF_HEADER}`);
        }
        request.session = session;
      } else {
        match = token === null ? undefined : findToken(known, token);
        if (!match) {
          reply.header('www-authenticate', 'Bearer realm="pgshift"');
          return deny(reply, 401, 'PGSHIFT_ERR_UNAUTHORIZED', token === null ? 'a bearer token is required' : 'the bearer token is not valid');
        }
      }
      request.actor = match.name;
      request.role = match.role;
      if (RANK[match.role] < RANK[access]) {
        return deny(reply, 403, 'PGSHIFT_ERR_FORBIDDEN', `this needs the ${access} role; token "${match.name}" is a ${match.role}`);
      }
    });
  },
  { name: 'pgshift-auth', dependencies: ['@fastify/cookie'] },
);

export function knownTokens(tokens: TokenConfig[]): KnownToken[] {
  return tokens.map((t) => ({ name: t.name, role: t.role, hash: Buffer.from(t.sha256, 'hex') }));
}

async function findSession(sessions: SessionStore, cookie: string, now: number): Promise<Session | null> {
  try {
    return await sessions.find(hashSessionId(cookie), now);
  } catch (err) {
    throw new PgshiftError('PGSHIFT_ERR_STATE_UNAVAILABLE', 'cannot check the session: the state database does not answer', { status: 503, cause: err });
  }
}

function sameSecret(presented: string | string[] | undefined, expected: string): boolean {
  if (typeof presented !== 'string') return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1]! : null;
}

export function findToken(known: KnownToken[], token: string): KnownToken | undefined {
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
