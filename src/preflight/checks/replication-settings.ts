import { slotName } from '../../replication/setup.js';
import type { CheckContext, CheckDefinition, FindingDraft } from '../check.js';
import { onGreen } from '../sql-text.js';
import type { PreflightSide } from '../targets.js';

/**
 * Server settings logical replication needs, in both directions: blue -> green now, and
 * green -> blue after cutover (the reverse replication that keeps a revert lossless).
 * On Aurora these are cluster parameter group values that need a reboot, not ALTER SYSTEM.
 */

interface SideSettings {
  wal_level: string;
  rds_logical: string | null;
  aurora: boolean;
  max_slots: number;
  max_senders: number;
  max_workers: number;
  max_processes: number;
  sync_workers: number;
  senders_used: number;
  workers_used: number;
  our_workers: number;
  slots: { name: string; active: boolean }[];
}

const SETTINGS_SQL = `
  SELECT current_setting('wal_level') AS wal_level,
         current_setting('rds.logical_replication', true) AS rds_logical,
         current_setting('rds.extensions', true) IS NOT NULL AS aurora,
         current_setting('max_replication_slots')::int AS max_slots,
         current_setting('max_wal_senders')::int AS max_senders,
         current_setting('max_logical_replication_workers')::int AS max_workers,
         current_setting('max_worker_processes')::int AS max_processes,
         current_setting('max_sync_workers_per_subscription')::int AS sync_workers,
         (SELECT count(*) FROM pg_stat_replication)::int AS senders_used,
         (SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL)::int AS workers_used,
         (SELECT count(*) FROM pg_stat_subscription WHERE pid IS NOT NULL AND subname = $1)::int AS our_workers,
         COALESCE((SELECT json_agg(json_build_object('name', slot_name, 'active', active)) FROM pg_replication_slots), '[]') AS slots`;

function readSettings(ctx: CheckContext, side: PreflightSide): Promise<SideSettings> {
  return ctx.query<SideSettings>(side, SETTINGS_SQL, [ctx.pair.subscription]).then((rows) => rows[0]!);
}

function changeSetting(side: PreflightSide, settings: SideSettings, name: string, value: string | number): string {
  if (settings.aurora) {
    return `Set ${name} = ${value} in ${side}'s DB cluster parameter group and reboot its writer instance.`;
  }
  const sql = `ALTER SYSTEM SET ${name} = ${typeof value === 'number' ? value : `'${value}'`};  -- then restart the server`;
  return side === 'green' ? onGreen(sql) : sql;
}

export const walLevelCheck: CheckDefinition = {
  id: 'wal-level',
  title: 'wal_level = logical on both sides',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const findings: FindingDraft[] = [];
    for (const side of ['blue', 'green'] as const) {
      const s = await readSettings(ctx, side);
      if (s.wal_level === 'logical') continue;
      const purpose =
        side === 'blue'
          ? 'logical replication blue -> green cannot run'
          : 'the reverse replication green -> blue that pgshift starts at cutover (for a lossless revert) cannot run';
      findings.push({
        severity: 'blocker',
        database: null,
        object: `setting ${side}.wal_level`,
        message: `${side}'s wal_level is ${s.wal_level}${s.rds_logical !== null ? ` (rds.logical_replication = ${s.rds_logical})` : ''}: ${purpose}`,
        remediation: s.rds_logical !== null ? changeSetting(side, s, 'rds.logical_replication', 1) : changeSetting(side, s, 'wal_level', 'logical'),
      });
    }
    return findings;
  },
};

/**
 * Slots and WAL senders on the sending side, apply and sync workers on the receiving
 * side, for what pgshift still has to create: one subscription per database, plus the
 * table sync workers of an initial copy that has not happened yet. Slots and workers
 * pgshift already runs are counted as in use and needed by nobody else.
 */
export const replicationCapacityCheck: CheckDefinition = {
  id: 'replication-capacity',
  title: 'enough replication slots, WAL senders and workers',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const [blue, green] = await Promise.all([readSettings(ctx, 'blue'), readSettings(ctx, 'green')]);
    const databases = ctx.pair.databases.length;
    const ours = new Set(ctx.pair.databases.map((db) => slotName(ctx.pair.subscription, db)));
    const ourSlots = blue.slots.filter((s) => ours.has(s.name));
    const missingSlots = databases - ourSlots.length;
    const syncHeadroom = missingSlots > 0 ? green.sync_workers : 0;
    const findings: FindingDraft[] = [];

    const short = (side: PreflightSide, s: SideSettings, setting: string, max: number, used: number, need: number, why: string) => {
      if (max - used >= need) return;
      findings.push({
        severity: 'blocker',
        database: null,
        object: `setting ${side}.${setting}`,
        message: `${side}: ${setting} = ${max}, ${used} in use, pgshift needs ${need} more (${why})`,
        remediation: changeSetting(side, s, setting, used + need + databases),
      });
    };

    const forwardCopy = syncHeadroom > 0 ? ` and ${syncHeadroom} for the initial copy's table sync` : '';
    short('blue', blue, 'max_replication_slots', blue.max_slots, blue.slots.length, missingSlots + syncHeadroom,
      `one slot per database without one${forwardCopy}`);
    const activeOurs = ourSlots.filter((s) => s.active).length;
    short('blue', blue, 'max_wal_senders', blue.max_senders, blue.senders_used, databases - activeOurs + syncHeadroom,
      `one per database's subscription${forwardCopy}`);
    short('green', green, 'max_logical_replication_workers', green.max_workers, green.workers_used - green.our_workers,
      databases + syncHeadroom, `one apply worker per database${forwardCopy}`);
    short('green', green, 'max_worker_processes', green.max_processes, green.workers_used - green.our_workers,
      databases + syncHeadroom + 1, 'the logical replication workers and their launcher');

    // After cutover green sends and blue applies; no initial copy in that direction.
    const reverse = 'for the reverse replication green -> blue started at cutover';
    short('green', green, 'max_replication_slots', green.max_slots, green.slots.length, databases, `one slot per database ${reverse}`);
    short('green', green, 'max_wal_senders', green.max_senders, green.senders_used, databases, `one per database ${reverse}`);
    short('blue', blue, 'max_logical_replication_workers', blue.max_workers, blue.workers_used, databases, `one apply worker per database ${reverse}`);
    short('blue', blue, 'max_worker_processes', blue.max_processes, blue.workers_used, databases + 1, `the apply workers and their launcher ${reverse}`);
    return findings;
  },
};
