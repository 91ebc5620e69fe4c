import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { PgshiftError } from '../errors.js';
import { STATE_SCHEMA as S, migrate } from './migrations.js';
import {
  AuditEventSchema,
  IntentSchema,
  PairStateSchema,
  PendingDrainSchema,
  TransitionSchema,
  type AuditEvent,
  type Intent,
  type IntentStatus,
  type LeaderInfo,
  type NewAuditEvent,
  type PairState,
} from '../shift/state.js';
import type { EventPage, NewIntent, PairPatch, ShiftStore } from '../shift/store.js';

const PAIR_COLUMNS = `id, stage, paused, halted, halt_reason, stage_entered_at, version, transition, last_transition, drain, updated_at`;

/** ShiftStore on PostgreSQL (the lab's state server, or a URL from config in production). */
export class PgShiftStore implements ShiftStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Applies pending migrations; safe to call from several processes at once. */
  async migrate(): Promise<number[]> {
    const client = await this.pool.connect();
    try {
      return await migrate(client);
    } finally {
      client.release();
    }
  }

  async ensurePair(id: string, stage: string, now: number): Promise<PairState> {
    await this.pool.query(
      `INSERT INTO ${S}.pairs (id, stage, stage_entered_at, updated_at) VALUES ($1, $3, to_timestamp($2 / 1000.0), to_timestamp($2 / 1000.0))
       ON CONFLICT (id) DO NOTHING`,
      [id, now, stage],
    );
    const pair = await this.getPair(id);
    if (!pair) throw new PgshiftError('PGSHIFT_ERR_STATE', `pair ${id} vanished right after it was created`);
    return pair;
  }

  async getPair(id: string): Promise<PairState | null> {
    const { rows } = await this.pool.query(`SELECT ${PAIR_COLUMNS} FROM ${S}.pairs WHERE id = $1`, [id]);
    return rows[0] ? toPair(rows[0]) : null;
  }

  async listPairs(): Promise<PairState[]> {
    const { rows } = await this.pool.query(`SELECT ${PAIR_COLUMNS} FROM ${S}.pairs ORDER BY id`);
    return rows.map(toPair);
  }

  async updatePair(id: string, expectedVersion: number, patch: PairPatch, now: number, event?: NewAuditEvent): Promise<PairState> {
    const sets: string[] = [];
    const values: unknown[] = [id, expectedVersion, now];
    const set = (column: string, value: unknown, cast = '') => {
      values.push(value);
      sets.push(`${column} = $${values.length}${cast}`);
    };
    if (patch.stage !== undefined) set('stage', patch.stage);
    if (patch.paused !== undefined) set('paused', patch.paused);
    if (patch.halted !== undefined) set('halted', patch.halted);
    if (patch.haltReason !== undefined) set('halt_reason', patch.haltReason);
    if (patch.stageEnteredAt !== undefined) {
      values.push(patch.stageEnteredAt);
      sets.push(`stage_entered_at = to_timestamp($${values.length} / 1000.0)`);
    }
    if (patch.transition !== undefined) set('transition', patch.transition === null ? null : JSON.stringify(patch.transition), '::jsonb');
    if (patch.lastTransition !== undefined) {
      set('last_transition', patch.lastTransition === null ? null : JSON.stringify(patch.lastTransition), '::jsonb');
    }
    if (patch.drain !== undefined) set('drain', patch.drain === null ? null : JSON.stringify(patch.drain), '::jsonb');
    return this.inTransaction(async (client) => {
      const { rows } = await client.query(
        `UPDATE ${S}.pairs SET ${[...sets, 'version = version + 1', 'updated_at = to_timestamp($3 / 1000.0)'].join(', ')}
          WHERE id = $1 AND version = $2 RETURNING ${PAIR_COLUMNS}`,
        values,
      );
      if (!rows[0]) {
        throw new PgshiftError('PGSHIFT_ERR_STATE_CONFLICT', `pair ${id} changed meanwhile (expected version ${expectedVersion})`, {
          status: 409,
        });
      }
      if (event) await insertEvent(client, event, now);
      return toPair(rows[0]);
    });
  }

  async createIntent(intent: NewIntent, now: number): Promise<Intent> {
    const id = randomUUID();
    return this.inTransaction(async (client) => {
      const { rows } = await client.query(
        `INSERT INTO ${S}.intents (id, pair, action, expected_stage, reason, actor, created_at, options)
         VALUES ($1, $2, $3, $4, $5, $6, to_timestamp($7 / 1000.0), $8::jsonb) RETURNING *`,
        [id, intent.pair, intent.action, intent.expectedStage, intent.reason, intent.actor, now, intent.options === null ? null : JSON.stringify(intent.options)],
      );
      await insertEvent(
        client,
        {
          pair: intent.pair,
          actor: intent.actor,
          action: `${intent.action}-requested`,
          fromStage: intent.expectedStage,
          toStage: null,
          outcome: 'info',
          reason: intent.reason,
          details: { intentId: id, ...(intent.options ? { options: intent.options } : {}) },
        },
        now,
      );
      return toIntent(rows[0]);
    });
  }

  async pendingIntents(pair: string): Promise<Intent[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM ${S}.intents WHERE pair = $1 AND status = 'pending' ORDER BY created_at, id`,
      [pair],
    );
    return rows.map(toIntent);
  }

  async getIntent(id: string): Promise<Intent | null> {
    const { rows } = await this.pool.query(`SELECT * FROM ${S}.intents WHERE id = $1`, [id]);
    return rows[0] ? toIntent(rows[0]) : null;
  }

  async finishIntent(id: string, status: Exclude<IntentStatus, 'pending'>, result: unknown, now: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${S}.intents SET status = $2, result = $3::jsonb, finished_at = to_timestamp($4 / 1000.0)
        WHERE id = $1 AND status = 'pending'`,
      [id, status, JSON.stringify(result ?? null), now],
    );
  }

  async recordEvent(event: NewAuditEvent, now: number): Promise<AuditEvent> {
    const client = await this.pool.connect();
    try {
      return await insertEvent(client, event, now);
    } finally {
      client.release();
    }
  }

  async listEvents(pair: string, options: { limit: number; before?: number | undefined }): Promise<EventPage> {
    const { rows } = await this.pool.query(
      `SELECT * FROM ${S}.events WHERE pair = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [pair, options.before ?? null, options.limit + 1],
    );
    const events = rows.slice(0, options.limit).map(toEvent);
    return { events, nextBefore: rows.length > options.limit ? events[events.length - 1]!.id : null };
  }

  async eventsAfter(pair: string, afterId: number, limit: number): Promise<AuditEvent[]> {
    const { rows } = await this.pool.query(`SELECT * FROM ${S}.events WHERE pair = $1 AND id > $2 ORDER BY id LIMIT $3`, [
      pair,
      afterId,
      limit,
    ]);
    return rows.map(toEvent);
  }

  async savePreflightReport(pair: string, report: unknown, now: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${S}.preflight_reports (pair, report, created_at) VALUES ($1, $2::jsonb, to_timestamp($3 / 1000.0))
       ON CONFLICT (pair) DO UPDATE SET report = excluded.report, created_at = excluded.created_at`,
      [pair, JSON.stringify(report), now],
    );
  }

  async lastPreflightReport(pair: string): Promise<unknown | null> {
    const { rows } = await this.pool.query(`SELECT report FROM ${S}.preflight_reports WHERE pair = $1`, [pair]);
    return rows[0]?.report ?? null;
  }

  async leader(): Promise<LeaderInfo | null> {
    const { rows } = await this.pool.query(`SELECT holder, since, seen_at FROM ${S}.leader`);
    const row = rows[0];
    return row ? { holder: row.holder, since: row.since.getTime(), seenAt: row.seen_at.getTime() } : null;
  }

  async recordLeader(holder: string, since: number, now: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${S}.leader (holder, since, seen_at) VALUES ($1, to_timestamp($2 / 1000.0), to_timestamp($3 / 1000.0))
       ON CONFLICT (singleton) DO UPDATE SET holder = excluded.holder, since = excluded.since, seen_at = excluded.seen_at`,
      [holder, since, now],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }
}

async function insertEvent(client: pg.ClientBase, event: NewAuditEvent, now: number): Promise<AuditEvent> {
  const { rows } = await client.query(
    `INSERT INTO ${S}.events (pair, at, actor, action, from_stage, to_stage, outcome, reason, details)
     VALUES ($1, to_timestamp($2 / 1000.0), $3, $4, $5, $6, $7, $8, $9::jsonb) RETURNING *`,
    [
      event.pair,
      event.at ?? now,
      event.actor,
      event.action,
      event.fromStage,
      event.toStage,
      event.outcome,
      event.reason,
      event.details === null || event.details === undefined ? null : JSON.stringify(event.details),
    ],
  );
  return toEvent(rows[0]);
}

function checked<T>(schema: TSchema, value: unknown, what: string): T {
  if (!Value.Check(schema, value)) {
    throw new PgshiftError('PGSHIFT_ERR_STATE_CORRUPT', `stored ${what} does not match its schema`, {
      details: [...Value.Errors(schema, value)].slice(0, 5),
    });
  }
  return value as T;
}

function toPair(row: Record<string, any>): PairState {
  return checked<PairState>(
    PairStateSchema,
    {
      id: row.id,
      stage: row.stage,
      paused: row.paused,
      halted: row.halted,
      haltReason: row.halt_reason,
      stageEnteredAt: row.stage_entered_at.getTime(),
      version: row.version,
      transition: row.transition === null ? null : checked(TransitionSchema, row.transition, 'transition'),
      lastTransition: row.last_transition === null ? null : checked(TransitionSchema, row.last_transition, 'transition'),
      drain: row.drain === null ? null : checked(PendingDrainSchema, row.drain, 'drain'),
      updatedAt: row.updated_at.getTime(),
    },
    'pair',
  );
}

function toIntent(row: Record<string, any>): Intent {
  return checked<Intent>(
    IntentSchema,
    {
      id: row.id,
      pair: row.pair,
      action: row.action,
      expectedStage: row.expected_stage,
      reason: row.reason,
      actor: row.actor,
      createdAt: row.created_at.getTime(),
      status: row.status,
      result: row.result,
      finishedAt: row.finished_at === null ? null : row.finished_at.getTime(),
      options: row.options ?? null,
    },
    'intent',
  );
}

function toEvent(row: Record<string, any>): AuditEvent {
  return checked<AuditEvent>(
    AuditEventSchema,
    {
      id: Number(row.id),
      pair: row.pair,
      at: row.at.getTime(),
      actor: row.actor,
      action: row.action,
      fromStage: row.from_stage,
      toStage: row.to_stage,
      outcome: row.outcome,
      reason: row.reason,
      details: row.details,
    },
    'event',
  );
}
