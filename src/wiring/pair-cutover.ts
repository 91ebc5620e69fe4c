import type { ClusterCatalog } from '../clusters/catalog.js';
import { createSnapshotId } from '../clusters/snapshot-id.js';
import type { CutoverConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import type { Clock } from '../clock.js';
import type { Direction, Replication } from '../replication/port.js';
import { otherSide } from '../replication/port.js';
import type { Side } from '../shift/model.js';
import type { CutoverSettings, PairCutover } from '../shift/ports.js';

export interface PairCutoverParts {
  pairId: string;
  config: CutoverConfig;
  replication: Replication;
  catalog: ClusterCatalog;
  clock: Clock;
}

function cutoverSettings(config: CutoverConfig): CutoverSettings {
  return {
    maxFreezeMs: config.maxFreezeSeconds * 1000,
    validateBudgetMs: config.validateBudgetMs,
    exactCountMaxRows: config.exactCountMaxRows,
    sequenceMargin: config.sequenceMargin,
    maxLagSeconds: config.maxLagSeconds,
    snapshotMaxAgeMs: config.snapshotMaxAgeSeconds * 1000,
    rollbackWindowMs: config.rollbackWindowSeconds * 1000,
  };
}

const toward = (from: Side): Direction => `${from}->${otherSide(from)}` as Direction;

/** The cutover's port over the pair's replication and cluster catalog. */
export function pairCutover(parts: PairCutoverParts): PairCutover {
  const { replication, catalog, clock } = parts;
  return {
    settings: cutoverSettings(parts.config),
    async parity(from) {
      return (await replication.parity(toward(from))).problems;
    },
    async recentSnapshot(side, maxAgeMs) {
      const last = await catalog.lastSnapshot(side);
      if (!last || last.status !== 'available' || !last.id.startsWith(`${D.SNAPSHOT_ID_PREFIX}-`)) return null;
      const createdAt = Date.parse(last.createdAt);
      return clock.now() - createdAt <= maxAgeMs ? { id: last.id, createdAt } : null;
    },
    async snapshot(side, id, signal) {
      const taken = await catalog.snapshot(side, { id, signal });
      return { id: taken.id, createdAt: Date.parse(taken.createdAt) };
    },
    snapshotId: (side, now) => createSnapshotId(`${parts.pairId}-${side}-cutover`, now),
    async pitr(side) {
      return (await catalog.describe(side)).pitr;
    },
    async freeze(side) {
      const report = await replication.freeze(side);
      return { frozenRoles: report.frozenRoles, sessionsTerminated: report.sessionsTerminated };
    },
    async unfreeze(side) {
      return { restoredRoles: (await replication.unfreeze(side)).restoredRoles };
    },
    async catchUp(from, timeoutMs) {
      const report = await replication.waitForApplied(toward(from), { timeoutMs });
      return { waitedMs: Math.max(0, ...report.databases.map((d) => d.waitedMs)) };
    },
    async copySequences(from, margin) {
      const report = await replication.copySequences(toward(from), { margin });
      return {
        copied: report.databases.reduce((n, d) => n + d.copied, 0),
        alreadyAhead: report.databases.reduce((n, d) => n + d.alreadyAhead, 0),
      };
    },
    async validate(from, budgetMs, exactRowLimit) {
      const report = await replication.validate(toward(from), { budgetMs, exactRowLimit });
      return { ok: report.ok, mismatches: report.mismatches, tables: report.databases.reduce((n, d) => n + d.tables.length, 0), ms: report.ms };
    },
    async replicateFrom(sender) {
      const receiver = otherSide(sender);
      // Never both ways at once: every row would echo back and forth.
      await replication.drop(toward(receiver));
      await replication.setUp(toward(sender), { copyData: false, readOnlyTo: true });
    },
    async openWrites(side) {
      await replication.setReadOnlyDefault(side, false);
      await replication.unfreeze(side);
    },
    async closeWayBack() {
      const dropped = await replication.drop('green->blue');
      const removed = await replication.removeSupport();
      return {
        dropped: [
          ...dropped.databases.flatMap((d) => [...(d.subscriptionDropped ? [`subscription on blue (${d.database})`] : []), ...(d.slotDropped ? [`slot on green (${d.database})`] : [])]),
          ...removed,
        ],
      };
    },
  };
}
