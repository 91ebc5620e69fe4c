/**
 * What the API's clients (the CLI in Node, the dashboard in the browser) share at run
 * time, free of Node and of any package: the error an error answer becomes, and the
 * header that carries a session's CSRF token.
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
