import * as D from '../defaults.js';
import { CliError, EXIT } from './command.js';

/** The error body every API error has: `{ error: { code, message, details? } }`. */
export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** An answer of the API other than 2xx, with its coded error when the body has one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * pgshift's REST API as the CLI uses it: JSON in and out, the bearer token on every
 * request. A service that cannot be reached becomes a CliError saying where the CLI
 * looked and how to point it elsewhere; an error answer becomes an ApiError.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: URL,
    private readonly token: string | undefined,
    private readonly timeoutMs = D.CLI_REQUEST_TIMEOUT_MS,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
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
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const error = (parsed as ApiErrorBody | undefined)?.error;
      throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text.slice(0, 200) || res.statusText), error?.details);
    }
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
