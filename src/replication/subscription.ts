import { describeError } from '../errors.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';
import type { DatabaseReplicationState } from './port.js';

/**
 * What one database's subscriber and publisher say about a subscription. Only columns
 * a non-superuser with pg_monitor may read (pg_subscription.subconninfo is not).
 */
export interface SubscriberView {
  exists: boolean;
  enabled: boolean;
  slot: string | null;
  publications: string[];
  workerPid: number | null;
  tablesTotal: number;
  tablesReady: number;
}

export async function readSubscriber(pools: PoolSet, subscriber: ConnectTarget, subscription: string): Promise<SubscriberView> {
  const rows = await pools.query<{
    enabled: boolean;
    slot: string | null;
    publications: string[];
    worker_pid: number | null;
    total: string;
    ready: string;
  }>(
    subscriber,
    // PostgreSQL 13 hides pg_subscription.oid from non-superusers: the subscription's
    // id comes from pg_stat_subscription (all databases) and is told apart by having
    // rows in this database's pg_subscription_rel, or by being the only one so named.
    `SELECT s.subenabled AS enabled, s.subslotname AS slot, s.subpublications AS publications, m.pid AS worker_pid,
            (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = m.subid) AS total,
            (SELECT count(*) FROM pg_subscription_rel r WHERE r.srsubid = m.subid AND r.srsubstate IN ('r', 's')) AS ready
       FROM pg_subscription s
       LEFT JOIN LATERAL (
         SELECT st.subid, st.pid FROM pg_stat_subscription st
          WHERE st.subname = s.subname AND st.relid IS NULL
            AND (EXISTS (SELECT 1 FROM pg_subscription_rel r WHERE r.srsubid = st.subid)
                 OR (SELECT count(DISTINCT x.subid) FROM pg_stat_subscription x WHERE x.subname = s.subname) = 1)
          LIMIT 1) m ON true
      WHERE s.subname = $1 AND s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [subscription],
  );
  const row = rows[0];
  if (!row) return { exists: false, enabled: false, slot: null, publications: [], workerPid: null, tablesTotal: 0, tablesReady: 0 };
  return {
    exists: true,
    enabled: row.enabled,
    slot: row.slot,
    publications: row.publications,
    workerPid: row.worker_pid,
    tablesTotal: Number(row.total),
    tablesReady: Number(row.ready),
  };
}

export interface PublisherView {
  slotExists: boolean;
  slotActive: boolean;
  walStatus: string | null;
  /** Tables the publications offer, or null when a publication is missing. */
  tablesPublished: number | null;
  missingPublications: string[];
}

export async function readPublisher(
  pools: PoolSet,
  publisher: ConnectTarget,
  slot: string,
  publications: string[],
): Promise<PublisherView> {
  const rows = await pools.query<{
    slot_exists: boolean;
    slot_active: boolean | null;
    wal_status: string | null;
    published: string;
    missing: string[];
  }>(
    publisher,
    `SELECT s.slot_name IS NOT NULL AS slot_exists, s.active AS slot_active, s.wal_status,
            (SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = ANY($2::text[])) AS published,
            ARRAY(SELECT p FROM unnest($2::text[]) p WHERE NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = p)) AS missing
       FROM (SELECT 1) one LEFT JOIN pg_replication_slots s ON s.slot_name = $1`,
    [slot, publications],
  );
  const row = rows[0]!;
  return {
    slotExists: row.slot_exists,
    slotActive: row.slot_active === true,
    walStatus: row.wal_status,
    tablesPublished: row.missing.length > 0 ? null : Number(row.published),
    missingPublications: row.missing,
  };
}

/** Reads both ends of one database's subscription; problems instead of exceptions. */
export async function readDatabaseState(
  pools: PoolSet,
  ends: { publisher: ConnectTarget; subscriber: ConnectTarget },
  database: string,
  subscription: string,
): Promise<DatabaseReplicationState> {
  const state: DatabaseReplicationState = {
    database,
    subscription,
    exists: null,
    enabled: null,
    workerPid: null,
    slot: null,
    slotExists: null,
    slotActive: null,
    walStatus: null,
    tablesTotal: null,
    tablesReady: null,
    tablesUnsubscribed: null,
    problems: [],
  };
  let sub: SubscriberView;
  try {
    sub = await readSubscriber(pools, ends.subscriber, subscription);
  } catch (err) {
    state.problems.push(`subscriber unreadable: ${describeError(err)}`);
    return state;
  }
  Object.assign(state, {
    exists: sub.exists,
    enabled: sub.enabled,
    workerPid: sub.workerPid,
    slot: sub.slot,
    tablesTotal: sub.tablesTotal,
    tablesReady: sub.tablesReady,
  });
  if (!sub.exists) {
    state.problems.push(`subscription ${subscription} does not exist`);
    return state;
  }
  if (!sub.enabled) state.problems.push(`subscription ${subscription} is disabled`);
  else if (sub.workerPid === null) state.problems.push('no apply worker is running');
  if (sub.tablesReady < sub.tablesTotal) {
    state.problems.push(`${sub.tablesTotal - sub.tablesReady} of ${sub.tablesTotal} tables not synchronized`);
  }
  if (sub.slot === null) {
    state.problems.push('the subscription has no slot');
    return state;
  }

  try {
    const pub = await readPublisher(pools, ends.publisher, sub.slot, sub.publications);
    Object.assign(state, { slotExists: pub.slotExists, slotActive: pub.slotExists ? pub.slotActive : false, walStatus: pub.walStatus });
    if (!pub.slotExists) state.problems.push(`slot ${sub.slot} does not exist on the publisher`);
    else if (!pub.slotActive) state.problems.push(`slot ${sub.slot} is not active`);
    if (pub.walStatus === 'lost') state.problems.push(`slot ${sub.slot} lost WAL it needed`);
    for (const p of pub.missingPublications) state.problems.push(`publication ${p} does not exist on the publisher`);
    if (pub.tablesPublished !== null) {
      state.tablesUnsubscribed = Math.max(0, pub.tablesPublished - sub.tablesTotal);
      if (state.tablesUnsubscribed > 0) {
        state.problems.push(
          `${state.tablesUnsubscribed} published tables are not subscribed (ALTER SUBSCRIPTION ${subscription} REFRESH PUBLICATION)`,
        );
      }
    }
  } catch (err) {
    state.problems.push(`publisher unreadable: ${describeError(err)}`);
  }
  return state;
}
