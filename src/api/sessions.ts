import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../config/schema.js';
import type { Session } from '../store/session-store.js';

/** The dashboard's session cookie: an opaque random id, HttpOnly, SameSite=Strict. */
export const SESSION_COOKIE = 'pgshift_session';

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
