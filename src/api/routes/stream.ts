import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import * as D from '../../defaults.js';
import type { ControllerEvents, ShiftController } from '../../shift/controller.js';
import type { PairSignals } from '../../shift/ports.js';
import type { ShiftStore } from '../../shift/store.js';
import { errorResponses, PairParamsSchema } from '../schemas.js';

export interface StreamOptions {
  controller: ShiftController;
  store: ShiftStore;
  /** Signals per pair, to push every sampling round. */
  signals: (pair: string) => PairSignals;
}

/**
 * Server-sent events of one pair: `event` for every audit log row (id = its id, so a
 * reconnecting client sends Last-Event-ID and misses nothing; read from the store, so
 * a follower streams what the leader did), `stage` when this process moves a pair,
 * `progress` when the preparation it runs reports (about once a second during the
 * initial copy), and `signals` after every sampling round.
 */
export async function streamRoutes(app: FastifyInstance, options: StreamOptions): Promise<void> {
  const api = app.withTypeProvider<TypeBoxTypeProvider>();
  // Open streams never end on their own: close them before the server waits for its connections.
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const close of [...open]) close();
  });
  api.get(
    '/api/v1/pairs/:pair/stream',
    {
      config: { access: 'viewer' },
      schema: {
        tags: ['pairs'],
        summary: 'Server-sent events: audit events, stage changes, preparation progress, signal samples',
        params: PairParamsSchema,
        security: [{ bearer: [] }],
        response: errorResponses(400, 404),
      },
    },
    async (request, reply) => {
      const pair = request.params.pair;
      options.controller.requirePair(pair);
      const lastId = Number(request.headers['last-event-id']);
      let cursor = Number.isInteger(lastId) && lastId > 0 ? lastId : await latestEventId(options.store, pair);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      const send = (event: string, data: unknown, id?: number) => {
        raw.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      send('hello', { pair, since: cursor });

      let closed = false;
      let polling = false;
      const poll = async () => {
        if (closed || polling) return;
        polling = true;
        try {
          for (const event of await options.store.eventsAfter(pair, cursor, 100)) {
            cursor = event.id;
            send('event', event, event.id);
          }
        } catch (err) {
          send('error', { message: `cannot read the audit log: ${(err as Error).message}` });
        } finally {
          polling = false;
        }
      };
      const onStage = (change: ControllerEvents['stage']) => {
        if (change.pair === pair) {
          send('stage', change);
          void poll();
        }
      };
      const onProgress = (update: ControllerEvents['progress']) => {
        if (update.pair === pair) send('progress', options.controller.preparation(pair));
      };
      const poller = setInterval(() => void poll(), D.SSE_POLL_MS);
      const keepalive = setInterval(() => raw.write(': keepalive\n\n'), D.SSE_KEEPALIVE_MS);
      const signals = options.signals(pair);
      const unsubscribe = signals.onSample(() => send('signals', { at: Date.now(), signals: signals.current(), replication: signals.replication() }));
      options.controller.on('stage', onStage);
      options.controller.on('progress', onProgress);

      const close = () => {
        if (closed) return;
        closed = true;
        clearInterval(poller);
        clearInterval(keepalive);
        unsubscribe();
        options.controller.off('stage', onStage);
        options.controller.off('progress', onProgress);
        open.delete(close);
        raw.end();
      };
      open.add(close);
      request.raw.on('close', close);
    },
  );
}

async function latestEventId(store: ShiftStore, pair: string): Promise<number> {
  const page = await store.listEvents(pair, { limit: 1 });
  return page.events[0]?.id ?? 0;
}
