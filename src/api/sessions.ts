import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../config/schema.js';

/** The dashboard's session cookie: an opaque random id, HttpOnly, SameSite=Strict. */
export const SESSION_COOKIE = 'pgshift_session';
/** The header a cookie-authenticated request that changes something must carry. */
export const CSRF_HEADER = 'x-pgshift-csrf';

/**
 * A signed-in browser. Only a hash of the cookie's id is stored, so reading the state
 * database yields nothing a browser could present; the token it signed in with is kept
 * as its hash, so a session ends when that token leaves the configuration.
 */
export interface Session {
  idHash: string;
  actor: string;
  role: Role;
  tokenSha256: string;
  /** Sent back in CSRF_HEADER by the page on every mutating call (synchronizer token). */
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Where sessions live: the state database, so that the standby task honours the
 * leader's sessions and a restart signs nobody out.
 */
export interface SessionStore {
  /** Stores a new session and drops expired ones. */
  create(session: Session): Promise<void>;
  /** The session with this id hash if it has not expired at `now`, else null. Never throws for an unknown id. */
  find(idHash: string, now: number): Promise<Session | null>;
  /** Ends a session; idempotent. */
  remove(idHash: string): Promise<void>;
}

export function hashSessionId(id: string): string {
  return createHash('sha256').update(id).digest('hex');
}

/** A new session for a token that matched, and the cookie value that names it. */
export function openSession(actor: string, role: Role, tokenSha256: string, now: number, ttlSeconds: number): { cookie: string; session: Session } {
  const cookie = randomBytes(32).toString('base64url');
  return {
    cookie,
    session: {
      idHash: hashSessionId(cookie),
      actor,
      role,
      tokenSha256,
      csrfToken: randomBytes(24).toString('base64url'),
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
    },
  };
}
