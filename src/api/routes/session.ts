import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import * as D from '../../defaults.js';
import type { TokenConfig } from '../../config/schema.js';
import { findToken, knownTokens } from '../auth.js';
import { errorResponses, NoQuerySchema, SessionViewSchema } from '../schemas.js';
import type { SessionStore } from '../../store/session-store.js';
import { openSession, SESSION_COOKIE } from '../sessions.js';

const SignInSchema = Type.Object({ token: Type.String({ minLength: 1, maxLength: 512 }) }, { additionalProperties: false });


export interface SessionRouteOptions {
  tokens: TokenConfig[];
  sessions: SessionStore;
  ttlSeconds: number;
  now: () => number;
}

/**
 * The dashboard's sign-in: a bearer token exchanged for a session cookie (HttpOnly,
 * SameSite=Strict, Secure over TLS), so that the page's script never holds the token
 * and the event stream, which cannot send headers, is authenticated too.
 */
export async function sessionRoutes(app: FastifyInstance, options: SessionRouteOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  const known = knownTokens(options.tokens);

  api.post(
    '/api/v1/session',
    {
      // Guessing tokens is bounded per address; the limit is keyed by IP before anyone is known.
      config: { access: 'none', rateLimit: { max: D.SIGN_IN_ATTEMPTS_PER_MINUTE, timeWindow: '1 minute' } },
      schema: {
        tags: ['session'],
        summary: 'Sign in with a token: sets the session cookie',
        querystring: NoQuerySchema,
        body: SignInSchema,
        response: { 200: SessionViewSchema, ...errorResponses(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const match = findToken(known, request.body.token);
      if (!match) {
        request.log.warn({ ip: request.ip }, 'dashboard sign-in refused: the token is not valid');
        return reply.status(401).send({ error: { code: 'PGSHIFT_ERR_UNAUTHORIZED', message: 'the token is not valid' } });
      }
      const { cookie, session } = openSession(match.name, match.role, match.hash.toString('hex'), options.now(), options.ttlSeconds);
      await options.sessions.create(session);
      void reply.setCookie(SESSION_COOKIE, cookie, cookieOptions(request, options.ttlSeconds));
      request.log.info({ actor: match.name, role: match.role, ip: request.ip }, 'dashboard sign-in');
      return { actor: session.actor, role: session.role, csrfToken: session.csrfToken, expiresAt: session.expiresAt };
    },
  );

  api.get(
    '/api/v1/session',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['session'],
        summary: 'Who is signed in, and the CSRF token of the session',
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 200: SessionViewSchema, ...errorResponses(400, 401) },
      },
    },
    async (request) => ({
      actor: request.actor!,
      role: request.role!,
      csrfToken: request.session?.csrfToken ?? null,
      expiresAt: request.session?.expiresAt ?? null,
    }),
  );

  api.delete(
    '/api/v1/session',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['session'],
        summary: 'Sign out: ends the session and clears the cookie',
        querystring: NoQuerySchema,
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      if (request.session) await options.sessions.remove(request.session.idHash);
      void reply.clearCookie(SESSION_COOKIE, cookieOptions(request, 0));
      return reply.status(204).send(null);
    },
  );
}

function cookieOptions(request: FastifyRequest, ttlSeconds: number) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    // Behind a TLS-terminating load balancer this needs `service.trustProxy`, so that X-Forwarded-Proto counts.
    secure: request.protocol === 'https',
    maxAge: ttlSeconds,
  };
}
