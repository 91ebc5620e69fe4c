import { PgshiftError, type ErrorCode } from '../errors.js';

/**
 * What a failed Route 53 call means to pgshift. Throttling and PriorRequestNotComplete
 * (Route 53's "slow down") and 5xx / network failures are worth retrying; everything
 * else is a verdict and becomes a coded PgshiftError that keeps the SDK error as cause.
 */
const THROTTLING_NAMES = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'RequestThrottled',
]);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

function shapeOf(err: unknown): SdkErrorShape {
  return typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {};
}

export function isThrottlingError(err: unknown): boolean {
  const e = shapeOf(err);
  return THROTTLING_NAMES.has(e.name ?? '') || e.$metadata?.httpStatusCode === 429;
}

export function isTransientError(err: unknown): boolean {
  const e = shapeOf(err);
  const status = e.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || TRANSIENT_NAMES.has(e.name ?? '') || NETWORK_CODES.has(e.code ?? '');
}

export function isRetryableRoute53Error(err: unknown): boolean {
  return isThrottlingError(err) || isTransientError(err);
}

const VERDICTS: Record<string, { code: ErrorCode; status: number }> = {
  InvalidChangeBatch: { code: 'PGSHIFT_ERR_ROUTE53_CHANGE_REJECTED', status: 409 },
  NoSuchHostedZone: { code: 'PGSHIFT_ERR_ROUTE53_NO_SUCH_ZONE', status: 502 },
  NoSuchChange: { code: 'PGSHIFT_ERR_ROUTE53_NO_SUCH_CHANGE', status: 502 },
  InvalidInput: { code: 'PGSHIFT_ERR_ROUTE53_INVALID_INPUT', status: 502 },
  AccessDenied: { code: 'PGSHIFT_ERR_ROUTE53_ACCESS_DENIED', status: 502 },
  AccessDeniedException: { code: 'PGSHIFT_ERR_ROUTE53_ACCESS_DENIED', status: 502 },
  InvalidClientTokenId: { code: 'PGSHIFT_ERR_ROUTE53_ACCESS_DENIED', status: 502 },
  SignatureDoesNotMatch: { code: 'PGSHIFT_ERR_ROUTE53_ACCESS_DENIED', status: 502 },
};

/** A failed Route 53 call as a PgshiftError; `what` says what pgshift was doing. */
export function wrapRoute53Error(err: unknown, what: string, attempts: number, extra: Record<string, unknown> = {}): PgshiftError {
  const e = shapeOf(err);
  const awsCode = e.name ?? 'Error';
  const verdict = isThrottlingError(err)
    ? { code: 'PGSHIFT_ERR_ROUTE53_THROTTLED' as const, status: 503 }
    : isTransientError(err)
      ? { code: 'PGSHIFT_ERR_ROUTE53_UNAVAILABLE' as const, status: 503 }
      : (VERDICTS[awsCode] ?? { code: 'PGSHIFT_ERR_ROUTE53_FAILED' as const, status: 502 });
  const tries = attempts === 1 ? '1 attempt' : `${attempts} attempts`;
  return new PgshiftError(verdict.code, `Route 53 ${what} failed after ${tries}: ${awsCode}: ${e.message ?? String(err)}`, {
    status: verdict.status,
    cause: err,
    details: {
      awsCode,
      httpStatus: e.$metadata?.httpStatusCode ?? null,
      requestId: e.$metadata?.requestId ?? null,
      attempts,
      ...extra,
    },
  });
}
