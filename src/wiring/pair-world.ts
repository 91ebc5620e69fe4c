import type { PairConfig } from '../config/schema.js';
import type { ClusterCatalog } from '../clusters/catalog.js';
import { checkClusters } from '../clusters/checks.js';
import type { HostOverrides } from '../clusters/dial.js';
import { readClustersView } from '../clusters/view.js';
import { countBySeverity, type PreflightReport } from '../preflight/report.js';
import type { PreflightService } from '../preflight/service.js';
import type { Replication } from '../replication/port.js';
import type { PairCutover, PairPreparation, PairSignals, PairWorld, PreflightStatus } from '../shift/ports.js';
import type { SubmittedChange as RouterSubmittedChange, TrafficRouter } from '../traffic/router.js';
import { SIDES } from '../shift/model.js';

export interface PairWorldParts {
  pair: PairConfig;
  router: TrafficRouter;
  catalog: ClusterCatalog;
  hostOverrides: HostOverrides;
  replication: Replication;
  signals: PairSignals;
  preflight: PreflightService;
  preparation: PairPreparation;
  cutover: PairCutover;
}

/** Adapts the real parts of one pair (Route 53, the cluster catalog, replication, signals, preflight) to the controller's ports. */
export function pairWorld(parts: PairWorldParts): PairWorld {
  const { pair, router, catalog } = parts;
  return {
    traffic: {
      async observe(maxAgeMs) {
        const observed = await router.observe({ maxAgeMs });
        return { reader: observed.reader, writer: observed.writer, at: observed.observedAt };
      },
      submit: (weights, options) =>
        router.submit(weights, { comment: options.comment, urgent: options.urgent, ...(options.signal ? { signal: options.signal } : {}) }),
      async waitInsync(change, signal) {
        // The controller hands back what submit returned: the router's SubmittedChange.
        const report = await router.waitInsync(change as RouterSubmittedChange, signal ? { signal } : {});
        return { insyncAt: report.insyncAt, insyncMs: report.insyncMs };
      },
    },
    signals: parts.signals,
    clusters: {
      async check() {
        const report = await checkClusters({ catalog, pair, hostOverrides: parts.hostOverrides });
        return { ok: report.ok, problems: SIDES.flatMap((side) => report[side].problems.map((p) => `${side}: ${p.message}`)) };
      },
      view: () => readClustersView(catalog),
    },
    preflight: {
      async last() {
        const report = await parts.preflight.last(pair.id);
        return report ? verdict(report) : null;
      },
      async run(phase, onTrialProgress) {
        const report = await parts.preflight.run(pair.id, {
          phase,
          ...(onTrialProgress ? { onTrialProgress: (database, p) => onTrialProgress({ database, ...p }) } : {}),
        });
        const blockerFindings = report.findings
          .filter((f) => f.severity === 'blocker')
          .map((f) => ({ check: f.check, database: f.database, object: f.object, message: f.message }));
        return { ...verdict(report), blockerFindings };
      },
    },
    preparation: parts.preparation,
    cutover: parts.cutover,
    sessions: {
      async drain(side) {
        return (await parts.replication.drain(side)).sessionsTerminated;
      },
    },
  };
}

function verdict(report: PreflightReport): PreflightStatus {
  const blockers = countBySeverity(report.findings).blocker;
  return { ok: blockers === 0, blockers, at: Date.parse(report.finishedAt) };
}
