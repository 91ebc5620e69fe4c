import type pg from 'pg';
import Value from 'typebox/value';
import { RehearsalRecordSchema, type RehearsalRecord, type RehearsalStore } from '../rehearsal/store.js';
import { STATE_SCHEMA as S } from './migrations.js';

const COLUMNS = `id, pair, status, step, copy_percent, request, report, actor, owner,
  (extract(epoch FROM started_at) * 1000)::float8 AS started_at,
  (extract(epoch FROM heartbeat_at) * 1000)::float8 AS heartbeat_at,
  (extract(epoch FROM finished_at) * 1000)::float8 AS finished_at`;

/** Rehearsals in the state database (migration 5). */
export class PgRehearsalStore implements RehearsalStore {
  constructor(private readonly pool: pg.Pool) {}

  async start(r: RehearsalRecord): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO ${S}.rehearsals (id, pair, status, step, copy_percent, request, report, actor, owner, started_at, heartbeat_at)
       SELECT $1, $2, 'running', $3, NULL, $4, NULL, $5, $6, to_timestamp($7 / 1000.0), to_timestamp($7 / 1000.0)
        WHERE NOT EXISTS (SELECT 1 FROM ${S}.rehearsals WHERE pair = $2 AND status = 'running')`,
      [r.id, r.pair, r.step, JSON.stringify(r.request), r.actor, r.owner, r.startedAt],
    );
    return rowCount === 1;
  }

  async touch(id: string, progress: { step: RehearsalRecord['step']; copyPercent: number | null }, now: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${S}.rehearsals SET step = $2, copy_percent = $3, heartbeat_at = to_timestamp($4 / 1000.0) WHERE id = $1 AND status = 'running'`,
      [id, progress.step, progress.copyPercent, now],
    );
  }

  async finish(id: string, report: RehearsalRecord['report'], now: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${S}.rehearsals SET status = 'done', report = $2, heartbeat_at = to_timestamp($3 / 1000.0), finished_at = to_timestamp($3 / 1000.0) WHERE id = $1`,
      [id, JSON.stringify(report), now],
    );
  }

  async get(id: string): Promise<RehearsalRecord | null> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM ${S}.rehearsals WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async last(pair: string): Promise<RehearsalRecord | null> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM ${S}.rehearsals WHERE pair = $1 ORDER BY started_at DESC LIMIT 1`, [pair]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  async running(): Promise<RehearsalRecord[]> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM ${S}.rehearsals WHERE status = 'running'`);
    return rows.map(toRecord).filter((r): r is RehearsalRecord => r !== null);
  }

  async interrupt(ids: readonly string[], now: number): Promise<void> {
    if (ids.length === 0) return;
    await this.pool.query(
      `UPDATE ${S}.rehearsals SET status = 'interrupted', finished_at = to_timestamp($2 / 1000.0) WHERE id = ANY($1) AND status = 'running'`,
      [ids, now],
    );
  }
}

/** A row another version wrote in a shape this one does not know reads as none. */
function toRecord(row: Record<string, unknown>): RehearsalRecord | null {
  const record = {
    id: row.id,
    pair: row.pair,
    status: row.status,
    step: row.step ?? null,
    copyPercent: row.copy_percent ?? null,
    request: row.request,
    report: row.report ?? null,
    actor: row.actor,
    owner: row.owner,
    startedAt: Math.round(Number(row.started_at)),
    heartbeatAt: Math.round(Number(row.heartbeat_at)),
    finishedAt: row.finished_at === null ? null : Math.round(Number(row.finished_at)),
  };
  return Value.Check(RehearsalRecordSchema, record) ? (record as RehearsalRecord) : null;
}
