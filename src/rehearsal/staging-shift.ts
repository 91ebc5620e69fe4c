import { EventEmitter } from 'node:events';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { Clock } from '../clock.js';
import type { Config, PairConfig } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, PgshiftError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PreflightReport } from '../preflight/report.js';
import { createPreflightService } from '../preflight/service.js';
import { StateStorePreflightReports } from '../preflight/store.js';
import { preflightPairFromConfig } from '../preflight/targets.js';
import { writeWindowOf } from '../shift/cutover-steps.js';
import { ShiftController } from '../shift/controller.js';
import { MemoryShiftStore } from '../shift/memory-store.js';
import type { Side } from '../shift/model.js';
import { advanceTarget, BASELINE, baselineOf, findStage, planStages, stageFacts, type StagePlanEntry } from '../shift/stages.js';
import type { PairState, Transition } from '../shift/state.js';
import type { LeaderLease } from '../shift/store.js';
import type { Route53Account } from '../traffic/route53-account.js';
import type { Route53Router } from '../traffic/route53-router.js';
import { buildPairParts, closePairParts, controlledPair, type PairParts } from '../wiring/pair.js';

export interface StageTiming {
  stage: string;
  startedAt: string;
  transitionMs: number;
  heldSeconds: number;
}

export interface WriteMove {
  from: Side;
  to: Side;
  windowMs: number;
  route53Ms: number | null;
  catchUpMs: number | null;
  sequencesCopied: number | null;
  tablesValidated: number | null;
  /** Each step of the cutover as the controller journaled it. */
  steps: { name: string; ms: number }[];
}

export interface StagingShiftOptions {
  /** The staging pair (rehearsal/runner.ts stagingPair): its own clusters and DNS names. */
  pair: PairConfig;
  config: Pick<Config, 'aws' | 'hostOverrides'>;
  rds: RDSClient;
  route53Account: Route53Account;
  /** The staging pair's preflight report: the controller's preflight guard reads it. */
  preflight: PreflightReport;
  instanceId: string;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  pollMs?: number;
}

/** The staging pair has one controller, in this process: nobody to share the lease with. */
class SoleLease extends EventEmitter implements LeaderLease {
  readonly held = true;
  readonly reachable = true;
  async tryAcquire(): Promise<boolean> {
    return true;
  }
  async confirm(): Promise<boolean> {
    return true;
  }
  async release(): Promise<void> {}
}

/**
 * The staging pair driven by pgshift's own controller, as an operator drives a real pair:
 * its DNS records made in the pair's hosted zone under the staging names, each read stage
 * advanced to once every guard holds (bake time, Route 53 weights, clusters, signals), the
 * write cutover, and the revert from green. The state lives in memory: a crashed
 * rehearsal is not resumed, its leftovers are removed (rehearsal/service.ts).
 */
export class StagingShift {
  private readonly plan: StagePlanEntry[];
  private readonly timings: StageTiming[] = [];
  /** The read stage the pair is at, whose hold time the next transition's start ends. */
  private holding: { timing: StageTiming; since: number } | null = null;

  private constructor(
    private readonly options: StagingShiftOptions,
    private readonly parts: PairParts,
    private readonly controller: ShiftController,
    private readonly store: MemoryShiftStore,
    plan: StagePlanEntry[],
  ) {
    this.plan = plan;
  }

  /** Builds the staging pair's parts (its records created), and starts its signals and controller at baseline. */
  static async open(options: StagingShiftOptions): Promise<StagingShift> {
    const { pair, clock, log } = options;
    const plan = planStages(pair.steps);
    let controller: ShiftController | null = null;
    const stage = () => findStage(plan, controller?.known(pair.id).state?.stage ?? BASELINE) ?? baselineOf(plan);
    const parts = await buildPairParts(pair, { config: options.config, rds: options.rds, route53Account: options.route53Account, clock, log, ...stageFacts(stage) });
    const store = new MemoryShiftStore();
    try {
      await store.ensurePair(pair.id, BASELINE, clock.now());
      const reports = new StateStorePreflightReports(store, clock);
      await reports.save(options.preflight);
      const preflight = createPreflightService({ pairs: [preflightPairFromConfig(pair)], targetsFor: () => parts.targets, store: reports, log, clock });
      controller = new ShiftController({
        store,
        lease: new SoleLease(),
        clock,
        log,
        instanceId: options.instanceId,
        observeMs: options.route53Account.observeMs,
        pairs: [controlledPair(parts, plan, preflight, options.config.hostOverrides)],
      });
      parts.signals.start();
      await controller.start();
      return new StagingShift(options, parts, controller, store, plan);
    } catch (err) {
      // The records exist by now, and no StagingShift will be there to close them.
      await controller?.stop().catch(() => undefined);
      await closeParts(parts, log);
      await removeStagingRecords(parts.router, pair, log);
      throw err;
    }
  }

  /** The side taking writes at the stage now. */
  writer(): Side {
    const state = this.controller.known(this.options.pair.id).state;
    return state && findStage(this.plan, state.stage)?.kind === 'green' ? 'green' : 'blue';
  }

  /** Advances through every read stage of the plan, each once its guards hold; answers each stage's timings. */
  async walkReads(onStage: (stage: string) => void): Promise<StageTiming[]> {
    for (;;) {
      const state = await this.controller.state(this.options.pair.id);
      const next = advanceTarget(this.plan, state.stage);
      if (next?.kind !== 'reads') return this.timings;
      const landed = await this.advanceFrom(state, 'advance');
      const timing = { stage: landed.to, startedAt: new Date(landed.startedAt).toISOString(), transitionMs: landed.landedAt! - landed.startedAt, heldSeconds: 0 };
      this.timings.push(timing);
      this.holding = { timing, since: landed.landedAt! };
      onStage(landed.to);
    }
  }

  /** The write cutover to green, once its guards hold. */
  async cutover(): Promise<WriteMove> {
    const state = await this.controller.state(this.options.pair.id);
    if (advanceTarget(this.plan, state.stage)?.kind !== 'green') {
      throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_STAGE', `the staging pair is at ${state.stage}, not at the last read stage`, { status: 409 });
    }
    return moveOf(await this.advanceFrom(state, 'advance'), 'blue');
  }

  /** The way back from green: the revert, which runs the write cutover back to blue and sends reads to blue. */
  async revert(): Promise<WriteMove> {
    const state = await this.controller.state(this.options.pair.id);
    return moveOf(await this.advanceFrom(state, 'revert'), 'green');
  }

  /**
   * Stops the controller and the signals, deletes the staging records. Never throws:
   * answers what it could not delete, for the report.
   */
  async close(): Promise<{ removed: string[]; left: string[]; unfinished: string | null }> {
    const { log, pair } = this.options;
    await this.controller.stop().catch((err: unknown) => log.warn({ err: describeError(err) }, 'rehearsal: staging controller did not stop cleanly'));
    // Its journal is in memory: nothing resumes or undoes a transition stopped half-way (a cancel mid-cutover), so it is said.
    const transition = this.controller.known(pair.id).state?.transition ?? null;
    const unfinished = transition ? `the staging pair was stopped in the middle of its ${transition.kind} from ${transition.from} to ${transition.to}: writes may stay frozen on a staging cluster` : null;
    await closeParts(this.parts, log);
    return { ...(await removeStagingRecords(this.parts.router, pair, log)), unfinished };
  }

  /**
   * Asks for `action` from `state` as soon as the controller would accept it, and waits
   * until its transition landed. A pair that halted (a guard sent reads back by itself),
   * a transition rolled back and guards that do not hold in time all throw, with why.
   */
  private async advanceFrom(state: PairState, action: 'advance' | 'revert'): Promise<Transition> {
    const { pair, clock, signal } = this.options;
    const pollMs = this.options.pollMs ?? D.REHEARSAL_POLL_MIN_MS;
    const deadline = clock.now() + (pair.bakeSeconds * 1000 + D.REHEARSAL_GUARDS_WAIT_MS);
    const before = state.lastTransition?.id ?? null;
    let intentId: string | null = null;
    while (intentId === null) {
      signal.throwIfAborted();
      const view = await this.controller.view(pair.id);
      if (view.halted) throw reverted(view.stage, view.haltReason);
      if (view.actions[action].allowed) {
        try {
          const asked = clock.now();
          intentId = (await this.controller.request(pair.id, action, { actor: 'rehearsal', expectedStage: state.stage, reason: `rehearsal: ${action} from ${state.stage}` })).id;
          if (this.holding) this.holding.timing.heldSeconds = Math.max(0, asked - this.holding.since) / 1000;
          this.holding = null;
          break;
        } catch (err) {
          if (!(err instanceof PgshiftError) || err.code !== 'PGSHIFT_ERR_GUARDS_FAILED') throw err;
        }
      }
      if (clock.now() >= deadline) {
        // The guards are those of advancing; a refused revert has its own reason.
        const failing = action === 'advance' ? view.guards.filter((g) => !g.ok).map((g) => `${g.name}: ${g.detail}`) : [];
        throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_GUARDS', `the staging pair could not ${action} from ${state.stage}: ${failing.join('; ') || view.actions[action].reason}`, { status: 409 });
      }
      await clock.sleep(pollMs);
    }
    for (;;) {
      signal.throwIfAborted();
      const now = await this.controller.state(pair.id);
      const last = now.lastTransition;
      if (now.transition === null && last && last.id !== before) {
        if (last.outcome === 'rolled-back') throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_ROLLED_BACK', `the ${last.kind} from ${last.from} to ${last.to} was rolled back: ${last.abandoned?.reason ?? 'no reason recorded'}`, { status: 409 });
        if (now.halted) throw reverted(now.stage, now.haltReason);
        return last;
      }
      const intent = await this.store.getIntent(intentId);
      if (intent && (intent.status === 'rejected' || intent.status === 'failed')) {
        throw new PgshiftError('PGSHIFT_ERR_REHEARSAL_REFUSED', `the staging pair's ${action} from ${state.stage} was ${intent.status}: ${JSON.stringify(intent.result)}`, { status: 409 });
      }
      await clock.sleep(pollMs);
    }
  }
}

function reverted(stage: string, reason: string | null): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_REHEARSAL_REVERTED', `the staging pair halted at ${stage}: ${reason ?? 'no reason recorded'}`, { status: 409 });
}

/** The write window and the steps of a landed cutover (either way), from its journal. */
function moveOf(transition: Transition, from: Side): WriteMove {
  const detail = (name: string) => transition.steps?.find((s) => s.name === name)?.detail ?? {};
  const number = (value: unknown) => (typeof value === 'number' ? value : null);
  const window = writeWindowOf(transition);
  return {
    from,
    to: from === 'blue' ? 'green' : 'blue',
    windowMs: window?.pgshiftMs ?? 0,
    route53Ms: window?.route53Ms ?? null,
    catchUpMs: number(detail('catch-up').waitedMs),
    sequencesCopied: number(detail('sequences').copied),
    tablesValidated: number(detail('validate').tables),
    steps: (transition.steps ?? []).map((s) => ({ name: s.name, ms: (s.endedAt ?? s.startedAt) - s.startedAt })),
  };
}

/** Deletes a staging pair's records (`router` is its) and lets go of the router. Never throws: what is left is answered. */
export async function removeStagingRecords(router: Route53Router, pair: PairConfig, log: Logger): Promise<{ removed: string[]; left: string[] }> {
  try {
    return await router.removeRecords();
  } catch (err) {
    log.warn({ err: describeError(err) }, 'rehearsal: staging records not removed');
    return { removed: [], left: [`${pair.dns.reader.name}, ${pair.dns.writer.name}: ${describeError(err)}`] };
  } finally {
    router.close();
  }
}

async function closeParts(parts: PairParts, log: Logger): Promise<void> {
  await closePairParts(parts).catch((err: unknown) => log.warn({ err: describeError(err) }, 'rehearsal: staging pair not closed cleanly'));
}
