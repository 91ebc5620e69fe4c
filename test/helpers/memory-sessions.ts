import type { Session, SessionStore } from '../../src/store/session-store.js';

/** SessionStore in memory, for API tests (tier 2); the real one is PgSessionStore. */
export class MemorySessionStore implements SessionStore {
  readonly sessions = new Map<string, Session>();

  async create(session: Session): Promise<void> {
    for (const [id, s] of this.sessions) if (s.expiresAt < session.createdAt) this.sessions.delete(id);
    this.sessions.set(session.idHash, { ...session });
  }

  async find(idHash: string, now: number): Promise<Session | null> {
    const session = this.sessions.get(idHash);
    return session && session.expiresAt > now ? { ...session } : null;
  }

  async remove(idHash: string): Promise<void> {
    this.sessions.delete(idHash);
  }
}
