import type { ErrorBody } from './schemas.js';

/**
 * What the API's clients (the CLI in Node, the dashboard in the browser) share at run
 * time, free of Node and of any package: a pair's paths, how an answer is read and the
 * error an error answer becomes, and the header that carries a session's CSRF token.
 */

/** The header a cookie-authenticated request that changes something must carry. */
export const CSRF_HEADER = 'x-pgshift-csrf';

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

/** `/api/v1/pairs/<pair><rest>`, the pair's id escaped. */
export function pairPath(pair: string, rest = ''): string {
  return `/api/v1/pairs/${encodeURIComponent(pair)}${rest}`;
}

/** An answer's JSON body (undefined when empty or not JSON); an answer other than 2xx throws its ApiError. */
export async function readAnswer(res: Response): Promise<unknown> {
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const error = (parsed as Partial<ErrorBody> | undefined)?.error;
    throw new ApiError(res.status, error?.code ?? `HTTP_${res.status}`, error?.message ?? (text.slice(0, 200) || res.statusText), error?.details);
  }
  return parsed;
}
