/**
 * Every error pgshift raises on purpose carries a stable code and the HTTP status the
 * API answers with. Adapters wrap SDK and `pg` errors in one of these and keep the
 * original as `cause`, so the message says what pgshift was doing and the cause says why.
 */
export type ErrorCode = `PGSHIFT_ERR_${string}`;

export interface PgshiftErrorOptions {
  status?: number;
  details?: unknown;
  cause?: unknown;
}

export class PgshiftError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: PgshiftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgshiftError';
    this.code = code;
    this.status = options.status ?? 500;
    if (options.details !== undefined) this.details = options.details;
  }
}

export function isPgshiftError(err: unknown, code?: ErrorCode): err is PgshiftError {
  return err instanceof PgshiftError && (code === undefined || err.code === code);
}

/** The message of anything thrown, for logs and findings; never the stack. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/**
 * An error that repeating the work cannot cure (preflight found a blocker, a schema that
 * does not restore): a PgshiftError whose `details.final` is true. Work that meets one
 * is given up and rolled back rather than retried.
 */
export function isFinalError(err: unknown): err is PgshiftError {
  return isPgshiftError(err) && typeof err.details === 'object' && err.details !== null && (err.details as { final?: unknown }).final === true;
}

/** An error repeating cannot cure (409): the work that meets it is given up and undone. */
export function finalError(code: ErrorCode, message: string, details: Record<string, unknown> = {}, cause?: unknown): PgshiftError {
  return new PgshiftError(code, message, { status: 409, details: { ...details, final: true }, ...(cause === undefined ? {} : { cause }) });
}
