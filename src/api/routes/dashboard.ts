import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { ErrorBody } from '../schemas.js';

/** Where `npm run build:dashboard` writes the page, from src/ (tsx) and dist/ alike. */
export const DASHBOARD_DIR = fileURLToPath(new URL('../../../dist-dashboard/', import.meta.url));

/** No inline script or style, nothing from elsewhere: the page only talks to this service. */
export const DASHBOARD_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/** Bundled assets carry a hash of their content in their name: a changed file is a new URL. */
const HASHED_ASSET = /^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.(js|css)$/;

/**
 * The dashboard at `/`: index.html (never cached without asking again) and its hashed
 * assets under /assets/ (kept a year), sent precompressed (.br, .gz) when the browser
 * takes it. Open to all (`access: none`): the page holds no secret, and everything it
 * shows comes from the API, which asks for a session. A service without a built page
 * answers 503 saying how to build it.
 */
export async function dashboardRoutes(app: FastifyInstance, options: { dir?: string } = {}): Promise<void> {
  const root = options.dir ?? DASHBOARD_DIR;
  await app.register(fastifyStatic, { root, serve: false, preCompressed: true });
  app.addHook('onSend', async (_request, reply) => {
    reply.header('content-security-policy', DASHBOARD_CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
  });

  const missing = (reply: FastifyReply) =>
    reply.status(503).send({
      error: { code: 'PGSHIFT_ERR_DASHBOARD_NOT_BUILT', message: `the dashboard is not built: run npm run build:dashboard (looked in ${root})` },
    } satisfies ErrorBody);

  app.get('/', { config: { access: 'none' }, schema: { hide: true } }, async (_request, reply) => {
    if (!existsSync(`${root}/index.html`)) return missing(reply);
    reply.header('cache-control', 'no-cache');
    return reply.sendFile('index.html', { cacheControl: false });
  });

  app.get<{ Params: { file: string } }>('/assets/:file', { config: { access: 'none' }, schema: { hide: true } }, async (request, reply) => {
    if (!HASHED_ASSET.test(request.params.file)) return reply.callNotFound();
    return reply.sendFile(`assets/${request.params.file}`, { immutable: true, maxAge: '365d' });
  });
}
