import type pg from 'pg';

/**
 * The state schema, as an ordered list of migrations. Applied at start under an
 * advisory lock, each in its own transaction with its version recorded, so several
 * processes starting at once migrate exactly once. Never edit a released migration:
 * add the next one.
 */
export const STATE_SCHEMA = 'pgshift';

const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'pairs, intents, audit log, preflight reports, leader',
    sql: `
      CREATE TABLE ${STATE_SCHEMA}.pairs (
        id text PRIMARY KEY,
        stage text NOT NULL,
        paused boolean NOT NULL DEFAULT false,
        halted boolean NOT NULL DEFAULT false,
        halt_reason text,
        stage_entered_at timestamptz NOT NULL,
        version integer NOT NULL DEFAULT 1,
        transition jsonb,
        last_transition jsonb,
        updated_at timestamptz NOT NULL
      );
      CREATE TABLE ${STATE_SCHEMA}.intents (
        id uuid PRIMARY KEY,
        pair text NOT NULL REFERENCES ${STATE_SCHEMA}.pairs (id),
        action text NOT NULL,
        expected_stage text,
        reason text,
        actor text NOT NULL,
        created_at timestamptz NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        result jsonb,
        finished_at timestamptz
      );
      CREATE INDEX intents_pending ON ${STATE_SCHEMA}.intents (pair, created_at) WHERE status = 'pending';
      CREATE TABLE ${STATE_SCHEMA}.events (
        id bigserial PRIMARY KEY,
        pair text NOT NULL,
        at timestamptz NOT NULL,
        actor text NOT NULL,
        action text NOT NULL,
        from_stage text,
        to_stage text,
        outcome text NOT NULL,
        reason text,
        details jsonb
      );
      CREATE INDEX events_by_pair ON ${STATE_SCHEMA}.events (pair, id DESC);
      CREATE TABLE ${STATE_SCHEMA}.preflight_reports (
        pair text PRIMARY KEY,
        report jsonb NOT NULL,
        created_at timestamptz NOT NULL
      );
      CREATE TABLE ${STATE_SCHEMA}.leader (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        holder text NOT NULL,
        since timestamptz NOT NULL,
        seen_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'drains stored with their due time',
    sql: `ALTER TABLE ${STATE_SCHEMA}.pairs ADD COLUMN drain jsonb;`,
  },
  {
    version: 3,
    name: 'intents carry options (finalize before the rollback window)',
    sql: `ALTER TABLE ${STATE_SCHEMA}.intents ADD COLUMN options jsonb;`,
  },
  {
    version: 4,
    name: 'dashboard sessions',
    sql: `
      CREATE TABLE ${STATE_SCHEMA}.sessions (
        id_hash text PRIMARY KEY,
        actor text NOT NULL,
        role text NOT NULL,
        token_sha256 text NOT NULL,
        csrf_token text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX sessions_expiry ON ${STATE_SCHEMA}.sessions (expires_at);
    `,
  },
  {
    version: 5,
    name: 'rehearsals',
    sql: `
      CREATE TABLE ${STATE_SCHEMA}.rehearsals (
        id text PRIMARY KEY,
        pair text NOT NULL,
        status text NOT NULL,
        step text,
        copy_percent integer,
        request jsonb NOT NULL,
        report jsonb,
        actor text NOT NULL,
        owner text NOT NULL,
        started_at timestamptz NOT NULL,
        heartbeat_at timestamptz NOT NULL,
        finished_at timestamptz
      );
      CREATE INDEX rehearsals_pair ON ${STATE_SCHEMA}.rehearsals (pair, started_at DESC);
    `,
  },
];

/** A fixed advisory lock key so that concurrent starts migrate one at a time. */
const MIGRATION_LOCK_KEY = 0x7067_7368; // "pgsh"

export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${STATE_SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${STATE_SCHEMA}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>(`SELECT version FROM ${STATE_SCHEMA}.migrations`)).rows.map((r) => r.version),
    );
    for (const migration of MIGRATIONS) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${STATE_SCHEMA}.migrations (version, name) VALUES ($1, $2)`, [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
        applied.push(migration.version);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {});
  }
  return applied;
}
