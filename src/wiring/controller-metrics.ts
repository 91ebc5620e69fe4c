import { metricFamily as family, type MetricFamily, type MetricsCollector } from '../metrics/prometheus.js';
import type { Split } from '../shift/model.js';
import type { PairState } from '../shift/state.js';
import type { CutoverView, PreparationView, WriteWindowView } from '../shift/view-schemas.js';
import { desiredWeights, type StagePlanEntry } from '../shift/stages.js';

/**
 * What the collector reads of the controller: its public read model, never its
 * internals (the controller is free to change how it keeps them).
 */
export interface ControllerReadModel {
  readonly isLeader: boolean;
  pairIds(): string[];
  /** The pair as of the last round, without a query; nulls before the first. */
  known(id: string): {
    state: Pick<PairState, 'stage' | 'halted' | 'paused'> | null;
    observed: { reader: Split | null; writer: Split | null } | null;
  };
  /** The preparation under way, null when none. */
  preparation(id: string): PreparationView | null;
  /** The write cutover under way and the last one's write window, without a query. */
  cutover(id: string): { current: CutoverView | null; lastWriteWindow: WriteWindowView | null };
}

/**
 * Where each pair stands, for alerting on `/metrics`: stage, halted, paused, the share
 * of reads and writes on green wanted by the stage and seen in Route 53, and whether
 * this process leads. Read from the controller's last round, never from AWS.
 */
export function controllerMetrics(controller: ControllerReadModel, plans: ReadonlyMap<string, StagePlanEntry[]>): MetricsCollector {
  return {
    collect(): MetricFamily[] {
      const stage = family('pgshift_pair_stage', 'The stage a pair is at: 1 for it.', 'gauge');
      const halted = family('pgshift_pair_halted', '1 when an auto-revert halted the pair and nobody resumed it yet.', 'gauge');
      const paused = family('pgshift_pair_paused', '1 when the pair is paused.', 'gauge');
      const wanted = family('pgshift_pair_green_percent', 'Percent of a name\'s traffic the stage sends to green.', 'gauge');
      const seen = family('pgshift_pair_observed_green_percent', 'Percent of a name\'s traffic Route 53 sends to green.', 'gauge');
      for (const id of controller.pairIds()) {
        const { state, observed } = controller.known(id);
        if (!state) continue;
        stage.samples.push({ labels: { pair: id, stage: state.stage }, value: 1 });
        halted.samples.push({ labels: { pair: id }, value: state.halted ? 1 : 0 });
        paused.samples.push({ labels: { pair: id }, value: state.paused ? 1 : 0 });
        const plan = plans.get(id);
        const weights = plan ? desiredWeights(plan, state.stage) : undefined;
        for (const name of ['reader', 'writer'] as const) {
          if (weights) wanted.samples.push({ labels: { pair: id, name }, value: weights[name].green });
          const split = observed?.[name];
          if (split) seen.samples.push({ labels: { pair: id, name }, value: split.green });
        }
      }
      const leader = family('pgshift_leader', '1 when this process holds the leader lease.', 'gauge');
      leader.samples.push({ value: controller.isLeader ? 1 : 0 });
      return [stage, halted, paused, wanted, seen, leader, ...preparationFamilies(controller), ...cutoverFamilies(controller)];
    },
  };
}

/** The preparation of green while it runs: steps, tables and bytes of the initial copy per database, rate and time left. */
function preparationFamilies(controller: ControllerReadModel): MetricFamily[] {
  const steps = family('pgshift_prepare_steps', 'Steps of the preparation under way, done and in all.', 'gauge');
  const tables = family('pgshift_prepare_tables', 'Tables of the initial copy per database, done and in all.', 'gauge');
  const bytes = family('pgshift_prepare_bytes', 'Bytes of the initial copy per database (blue heap size), done and in all.', 'gauge');
  const rate = family('pgshift_prepare_bytes_per_second', 'Initial copy rate over the last readings.', 'gauge');
  const eta = family('pgshift_prepare_eta_seconds', 'Estimated time until the initial copy ends.', 'gauge');
  for (const id of controller.pairIds()) {
    const preparation = controller.preparation(id);
    if (!preparation) continue;
    steps.samples.push({ labels: { pair: id, state: 'done' }, value: preparation.stepsDone }, { labels: { pair: id, state: 'total' }, value: preparation.stepsTotal });
    const progress = preparation.progress;
    if (!progress) continue;
    for (const db of progress.databases) {
      tables.samples.push({ labels: { pair: id, database: db.database, state: 'done' }, value: db.tablesDone }, { labels: { pair: id, database: db.database, state: 'total' }, value: db.tablesTotal });
      bytes.samples.push({ labels: { pair: id, database: db.database, state: 'done' }, value: db.bytesDone }, { labels: { pair: id, database: db.database, state: 'total' }, value: db.bytesTotal });
    }
    if (progress.bytesPerSecond !== null) rate.samples.push({ labels: { pair: id }, value: progress.bytesPerSecond });
    if (progress.etaSeconds !== null) eta.samples.push({ labels: { pair: id }, value: progress.etaSeconds });
  }
  return [steps, tables, bytes, rate, eta];
}

/** The write cutover: the step under way, how long writes have been frozen, and the last write window in its two parts. */
function cutoverFamilies(controller: ControllerReadModel): MetricFamily[] {
  const running = family('pgshift_cutover_running', '1 while a write cutover runs (either direction), with its current step.', 'gauge');
  const window = family('pgshift_cutover_write_window_seconds', "The last cutover's write window: pgshift's part (freeze -> writer change submitted) and Route 53's (-> INSYNC).", 'gauge');
  for (const id of controller.pairIds()) {
    const { current, lastWriteWindow } = controller.cutover(id);
    if (current) running.samples.push({ labels: { pair: id, direction: current.direction, step: current.step }, value: 1 });
    if (lastWriteWindow) {
      window.samples.push({ labels: { pair: id, direction: lastWriteWindow.direction, part: 'pgshift' }, value: lastWriteWindow.pgshiftMs / 1000 });
      if (lastWriteWindow.route53Ms !== null) window.samples.push({ labels: { pair: id, direction: lastWriteWindow.direction, part: 'route53' }, value: lastWriteWindow.route53Ms / 1000 });
    }
  }
  return [running, window];
}
