import type pg from 'pg';
import type { Session, SessionStore } from './session-store.js';
import { STATE_SCHEMA as S } from './migrations.js';

/** Dashboard sessions in the state database (migration 4). */
export class PgSessionStore implements SessionStore {
  constructor(private readonly pool: pg.Pool) {}

  async create(session: Session): Promise<void> {
    await this.pool.query(
      `WITH expired AS (DELETE FROM ${S}.sessions WHERE expires_at < to_timestamp($6 / 1000.0))
       INSERT INTO ${S}.sessions (id_hash, actor, role, token_sha256, csrf_token, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, to_timestamp($6 / 1000.0), to_timestamp($7 / 1000.0))`,
      [session.idHash, session.actor, session.role, session.tokenSha256, session.csrfToken, session.createdAt, session.expiresAt],
    );
  }

  async find(idHash: string, now: number): Promise<Session | null> {
    const { rows } = await this.pool.query(
      `SELECT id_hash, actor, role, token_sha256, csrf_token,
              (extract(epoch FROM created_at) * 1000)::float8 AS created_at, (extract(epoch FROM expires_at) * 1000)::float8 AS expires_at
         FROM ${S}.sessions WHERE id_hash = $1 AND expires_at > to_timestamp($2 / 1000.0)`,
      [idHash, now],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      idHash: row.id_hash,
      actor: row.actor,
      role: row.role,
      tokenSha256: row.token_sha256,
      csrfToken: row.csrf_token,
      createdAt: Math.round(row.created_at),
      expiresAt: Math.round(row.expires_at),
    };
  }

  async remove(idHash: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${S}.sessions WHERE id_hash = $1`, [idHash]);
  }
}
