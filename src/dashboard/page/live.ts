import type { EventsPage, SignalsEvent } from './api.js';
import { pairPath } from '../../api/wire.js';

export type LiveStatus = 'connecting' | 'live' | 'disconnected';

export interface StreamHandlers {
  event(event: EventsPage['events'][number]): void;
  stage(): void;
  signals(round: SignalsEvent): void;
  status(status: LiveStatus): void;
}

/** After the service refused the stream (EventSource gives up on an error answer), the page asks again this often. */
const REOPEN_MS = 5_000;

/**
 * The pair's event stream. EventSource reconnects by itself after a dropped connection
 * and sends Last-Event-ID, so no audit event is missed; only when the service answered
 * with an error does it stop, and then the page opens a new one a little later.
 * Returns the function that closes it.
 */
export function openStream(pair: string, on: StreamHandlers): () => void {
  let source: EventSource | null = null;
  let timer: number | undefined;
  let closed = false;
  const parse = <T>(e: Event): T => JSON.parse((e as MessageEvent<string>).data) as T;

  const open = () => {
    on.status('connecting');
    const s = new EventSource(pairPath(pair, '/stream'));
    source = s;
    s.addEventListener('open', () => on.status('live'));
    s.addEventListener('error', () => {
      on.status('disconnected');
      if (s.readyState === EventSource.CLOSED && !closed) timer = window.setTimeout(open, REOPEN_MS);
    });
    s.addEventListener('event', (e) => on.event(parse(e)));
    s.addEventListener('stage', () => on.stage());
    s.addEventListener('signals', (e) => on.signals(parse(e)));
  };
  open();
  return () => {
    closed = true;
    window.clearTimeout(timer);
    source?.close();
  };
}
