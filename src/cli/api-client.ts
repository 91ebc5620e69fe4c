import type { SchemaSyncReport } from '../replication/schema-sync.js';
import type { EventsPage, IntentAnswer, PairDetail, PairList } from '../api/schemas.js';
import * as D from '../defaults.js';
import type { PreflightPhase, PreflightReport } from '../preflight/report.js';
import type { RehearsalRecord } from '../rehearsal/store.js';
import type { RehearsalRequest } from '../rehearsal/runner.js';
import type { IntentAction } from '../shift/state.js';
import { ApiError, pairPath, readAnswer } from '../api/wire.js';
import { CliError, EXIT } from './errors.js';

export type { EventsPage, IntentAnswer, PairDetail, PairList, PreflightReport };
export { ApiError };

/** Body of prepare, advance, revert, pause, resume and finalize (expectedStage: advance only; confirm, ignoreRollbackWindow: finalize only). */
export interface IntentBody {
  expectedStage?: string;
  reason?: string;
  confirm?: true;
  ignoreRollbackWindow?: boolean;
}

/**
 * pgshift's REST API as the CLI uses it: one method per call, each answer typed from
 * the API's own schemas (src/api/schemas.ts), JSON in and out, the bearer token on every
 * request. A service that cannot be reached becomes a CliError saying where the CLI
 * looked and how to point it elsewhere; an error answer becomes an ApiError.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: URL,
    private readonly token: string | undefined,
    private readonly timeoutMs = D.CLI_REQUEST_TIMEOUT_MS,
  ) {}

  /** `GET /api/v1/pairs` */
  pairs(): Promise<PairList> {
    return this.request('GET', '/api/v1/pairs');
  }

  /** `GET /api/v1/pairs/:pair` */
  pair(pair: string): Promise<PairDetail> {
    return this.request('GET', pairPath(pair));
  }

  /** `POST /api/v1/pairs/:pair/preflight[?phase=]`: runs every check (the service's default phase without `phase`). */
  runPreflight(pair: string, phase?: PreflightPhase): Promise<PreflightReport> {
    return this.request('POST', pairPath(pair, `/preflight${phase === undefined ? '' : `?phase=${phase}`}`));
  }

  /** `POST /api/v1/pairs/:pair/schema/sync`: green's missing DDL, shown (a dry run) or applied with `apply`. */
  syncSchema(pair: string, apply: boolean): Promise<SchemaSyncReport> {
    return this.request('POST', pairPath(pair, '/schema/sync'), { apply });
  }

  /** `GET /api/v1/pairs/:pair/preflight`: the last report (ApiError PGSHIFT_ERR_PREFLIGHT_NOT_RUN without one). */
  lastPreflight(pair: string): Promise<PreflightReport> {
    return this.request('GET', pairPath(pair, '/preflight'));
  }

  /** `POST /api/v1/pairs/:pair/<action>`: records the intent; with `wait`, answers once carried out (or after the service's bound). */
  requestIntent(pair: string, action: IntentAction, body: IntentBody, wait: boolean): Promise<IntentAnswer> {
    return this.request('POST', pairPath(pair, `/${action}?wait=${wait}`), body);
  }

  /** `GET /api/v1/pairs/:pair/intents/:id`: a request and where it stands. */
  intent(pair: string, id: string): Promise<IntentAnswer> {
    return this.request('GET', pairPath(pair, `/intents/${encodeURIComponent(id)}`));
  }

  /** `GET /api/v1/pairs/:pair/events`: a page of the audit log, newest first. */
  events(pair: string, page: { limit: number; before?: number | undefined }): Promise<EventsPage> {
    return this.request('GET', pairPath(pair, `/events?limit=${page.limit}${page.before === undefined ? '' : `&before=${page.before}`}`));
  }

  /** `POST /api/v1/pairs/:pair/rehearsals`: starts a rehearsal in the background. */
  startRehearsal(pair: string, body: RehearsalRequest): Promise<RehearsalRecord> {
    return this.request('POST', pairPath(pair, '/rehearsals'), body);
  }

  /** `GET /api/v1/pairs/:pair/rehearsals/:id` (`latest`: the newest). */
  rehearsal(pair: string, id: string): Promise<RehearsalRecord> {
    return this.request('GET', pairPath(pair, `/rehearsals/${encodeURIComponent(id)}`));
  }

  /** `POST /api/v1/pairs/:pair/rehearsals/:id/cancel` */
  cancelRehearsal(pair: string, id: string): Promise<RehearsalRecord> {
    return this.request('POST', pairPath(pair, `/rehearsals/${encodeURIComponent(id)}/cancel`), {});
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(path.replace(/^\//, ''), this.baseUrl.href.endsWith('/') ? this.baseUrl : `${this.baseUrl.href}/`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new CliError(`cannot reach pgshift at ${this.baseUrl.origin}: ${reason(err)} (set --url or PGSHIFT_URL)`, EXIT.service);
    }
    const parsed = await readAnswer(res);
    if (parsed === undefined) {
      throw new CliError(`pgshift at ${this.baseUrl.origin} answered ${method} ${url.pathname} with something that is not JSON`, EXIT.service);
    }
    return parsed as T;
  }
}

function reason(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') return 'no answer in time';
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused (is the service running?)';
  if (cause?.code === 'ENOTFOUND') return 'host not found';
  return cause?.message ?? (err instanceof Error ? err.message : String(err));
}
