import { isPgshiftError } from '../../errors.js';

/**
 * What went wrong with a request, as an application's error dashboard would group it.
 * `retryable` says whether trying the same request again can succeed (a dead or
 * refused connection, a session pgshift ended, a side frozen for a moment); a
 * permission or constraint error will fail again and is not retried.
 */
export const ERROR_KINDS = [
  'connect',
  'terminated',
  'login_refused',
  'read_only',
  'timeout',
  'conflict',
  'permission',
  'resolve',
  'commit_unknown',
  'other',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface ClassifiedError {
  kind: ErrorKind;
  retryable: boolean;
  /**
   * True when the server answered with an error on a live session: the transaction is
   * certainly rolled back. False for connection failures, where a COMMIT in flight may
   * or may not have happened.
   */
  serverAnswered: boolean;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function classifyError(err: unknown): ClassifiedError {
  // The server answered: the write found nothing to change, and trying again will not either.
  if (isPgshiftError(err, 'PGSHIFT_ERR_WORKLOAD_NOT_APPLIED')) return { kind: 'other', retryable: false, serverAnswered: true };
  if (isPgshiftError(err, 'PGSHIFT_ERR_LAB_NAME_NOT_FOUND') || isPgshiftError(err, 'PGSHIFT_ERR_WORKLOAD_UNKNOWN_ENDPOINT')) {
    return { kind: 'resolve', retryable: true, serverAnswered: false };
  }
  const e = err as { code?: unknown; message?: unknown; severity?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  // A DatabaseError from the server has a severity; node-postgres's own errors do not.
  const fromServer = typeof e.severity === 'string';
  if (fromServer) {
    if (code === '57P01' || code === '57P02') return { kind: 'terminated', retryable: true, serverAnswered: false };
    if (code === '57P03' || code === '53300' || code.startsWith('08')) return { kind: 'connect', retryable: true, serverAnswered: false };
    if (code === '28000') return { kind: 'login_refused', retryable: true, serverAnswered: true };
    if (code === '25006') return { kind: 'read_only', retryable: true, serverAnswered: true };
    if (code === '57014') return { kind: 'timeout', retryable: true, serverAnswered: true };
    if (code === '40001' || code === '40P01' || code === '55P03') return { kind: 'conflict', retryable: true, serverAnswered: true };
    if (code === '42501') return { kind: 'permission', retryable: false, serverAnswered: true };
    return { kind: 'other', retryable: false, serverAnswered: true };
  }
  if (CONNECTION_CODES.has(code)) return { kind: 'connect', retryable: true, serverAnswered: false };
  if (/timeout/i.test(message)) return { kind: 'timeout', retryable: true, serverAnswered: false };
  if (/terminat|ended|closed|not queryable|Connection/i.test(message)) return { kind: 'terminated', retryable: true, serverAnswered: false };
  return { kind: 'other', retryable: false, serverAnswered: false };
}
