import type { Role } from '../config/schema.js';

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
