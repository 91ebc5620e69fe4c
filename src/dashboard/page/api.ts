import type { Static } from 'typebox';
import type { SessionViewSchema } from '../../api/schemas.js';
import type { EventsPage, IntentAnswer, PairDetail, PairList } from '../../api/schemas.js';
import { ApiError, CSRF_HEADER, pairPath, readAnswer } from '../../api/wire.js';
import type { PreflightReport } from '../../preflight/report.js';
import type { RehearsalRequest } from '../../rehearsal/runner.js';
import type { RehearsalRecord } from '../../rehearsal/store.js';
import type { IntentAction } from '../../shift/state.js';
import type { Measurement } from '../../signals/port.js';
import type { PairSignals } from '../../signals/pair-signals.js';

export type { EventsPage, IntentAnswer, PairDetail, PairList, PreflightReport, Measurement, RehearsalRecord };
export { ApiError };

/** `GET /api/v1/pairs/:pair/signals`: each signal with its id, the key of its history. */
export type SignalSnapshot = ReturnType<PairSignals['latest']>[number];

/** The `signals` event of the stream: one sampling round. */
export interface SignalsEvent {
  at: number;
  signals: ReturnType<PairSignals['current']>;
  replication: ReturnType<PairSignals['replication']>;
}

/** `GET|POST /api/v1/session`: who the cookie signs in, and the token mutating calls must echo. */
export type Session = Static<typeof SessionViewSchema>;

/**
 * The REST API as the page uses it, answers typed from the API's own schemas. The
 * session cookie authenticates (the browser sends it; the page never holds a token
 * after signing in); calls that change something echo the session's CSRF token.
 */
export class Api {
  private csrfToken: string | null = null;

  /** `onSignedOut` hears of a 401 from any call but the session's own: the session expired or was ended elsewhere. */
  constructor(private readonly onSignedOut: () => void) {}

  session(): Promise<Session> {
    return this.request<Session>('GET', '/api/v1/session').then((s) => this.remember(s));
  }

  signIn(token: string): Promise<Session> {
    return this.request<Session>('POST', '/api/v1/session', { token }).then((s) => this.remember(s));
  }

  async signOut(): Promise<void> {
    await this.request('DELETE', '/api/v1/session');
    this.csrfToken = null;
  }

  pairs(): Promise<PairList> {
    return this.request('GET', '/api/v1/pairs');
  }

  pair(pair: string): Promise<PairDetail> {
    return this.request('GET', pairPath(pair));
  }

  events(pair: string, limit: number): Promise<EventsPage> {
    return this.request('GET', pairPath(pair, `/events?limit=${limit}`));
  }

  /** The last preflight report; null when none was run yet. */
  async preflight(pair: string): Promise<PreflightReport | null> {
    try {
      return await this.request<PreflightReport>('GET', pairPath(pair, '/preflight'));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'PGSHIFT_ERR_PREFLIGHT_NOT_RUN') return null;
      throw err;
    }
  }

  signals(pair: string): Promise<{ pair: string; signals: SignalSnapshot[] }> {
    return this.request('GET', pairPath(pair, '/signals'));
  }

  history(pair: string, signal: string, n: number): Promise<{ measurements: Measurement[] }> {
    return this.request('GET', pairPath(pair, `/signals/${encodeURIComponent(signal)}/history?n=${n}`));
  }

  /** The pair's newest rehearsal; null when it has none (or the service rehearses no pair). */
  async latestRehearsal(pair: string): Promise<RehearsalRecord | null> {
    try {
      return await this.request<RehearsalRecord>('GET', pairPath(pair, '/rehearsals/latest'));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Starts a rehearsal with the defaults (blue's newest snapshot, the built-in write load); 409 when one runs or the pair cannot be rehearsed. */
  startRehearsal(pair: string, request: RehearsalRequest): Promise<RehearsalRecord> {
    return this.request('POST', pairPath(pair, '/rehearsals'), request);
  }

  /** Asks a running rehearsal to stop; its staging clusters are still removed. */
  cancelRehearsal(pair: string, id: string): Promise<RehearsalRecord> {
    return this.request('POST', pairPath(pair, `/rehearsals/${encodeURIComponent(id)}/cancel`), {});
  }

  /** Asks for an action and waits (the service bounds it) until the loop carried it out or refused. */
  act(pair: string, action: IntentAction, body: Record<string, unknown>): Promise<IntentAnswer> {
    return this.request('POST', pairPath(pair, `/${action}?wait=true`), body);
  }

  private remember(session: Session): Session {
    this.csrfToken = session.csrfToken;
    return session;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && this.csrfToken) headers[CSRF_HEADER] = this.csrfToken;
    const res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    try {
      return (await readAnswer(res)) as T;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && !path.startsWith('/api/v1/session')) this.onSignedOut();
      throw err;
    }
  }
}

