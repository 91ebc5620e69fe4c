import type { Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { finalizeRefusal } from './decide.js';
import { failingGuards, type Guard } from './guards.js';
import { auditEvent, type PairRuntime } from './runtime.js';
import type { Intent, IntentAction, PairState } from './state.js';
import type { ShiftStore } from './store.js';

export interface RequestOptions {
  actor: string;
  expectedStage?: string | undefined;
  reason?: string | undefined;
  /** finalize: close the way back before the rollback window has passed. */
  ignoreRollbackWindow?: boolean | undefined;
}

export interface IntentDeskDeps {
  store: ShiftStore;
  clock: Clock;
  /** The guards of advancing the pair now, from what was last observed (refreshed first when needed). */
  guards(runtime: PairRuntime, state: PairState): Promise<Guard[]>;
  /** Asks the loop to act now rather than at its next tick. */
  wake(): void;
}

/**
 * Operators' requests, recorded as intents for the leader's loop (any process may take
 * them; only the leader carries them out). An advance is checked at once as well, so the
 * caller hears "no" with the reasons; the loop checks again when it acts.
 */
export class IntentDesk {
  constructor(private readonly deps: IntentDeskDeps) {}

  /**
   * Throws 409 PGSHIFT_ERR_STAGE_MISMATCH or PGSHIFT_ERR_GUARDS_FAILED (with the failing
   * guards) when an advance cannot go, PGSHIFT_ERR_ALREADY_PREPARING for a second prepare,
   * PGSHIFT_ERR_CANNOT_FINALIZE when the pair is not at green or the rollback window is open.
   */
  async request(runtime: PairRuntime, state: PairState, action: IntentAction, options: RequestOptions): Promise<Intent> {
    const { store, clock } = this.deps;
    if (action === 'prepare') {
      // A second preparation queued behind the first would start again after a revert gave the first up.
      const under = state.transition?.kind === 'prepare' || (await store.pendingIntents(runtime.id)).some((i) => i.action === 'prepare');
      if (under) {
        await this.reject(runtime, action, state, options, 'a preparation is already under way');
        throw new PgshiftError('PGSHIFT_ERR_ALREADY_PREPARING', `a preparation of ${runtime.id} is already under way: follow it with pgshift status, or revert to give it up`, {
          status: 409,
          details: { stage: state.stage },
        });
      }
    }
    if (action === 'finalize') {
      const refusal = finalizeRefusal(runtime.pair, state, options.ignoreRollbackWindow === true, clock.now());
      if (refusal) {
        await this.reject(runtime, action, state, options, refusal);
        throw new PgshiftError('PGSHIFT_ERR_CANNOT_FINALIZE', refusal, { status: 409, details: { stage: state.stage } });
      }
    }
    if (action === 'advance') {
      if (options.expectedStage !== undefined && options.expectedStage !== state.stage) {
        await this.reject(runtime, action, state, options, `expected stage ${options.expectedStage} but the pair is at ${state.stage}`);
        throw new PgshiftError('PGSHIFT_ERR_STAGE_MISMATCH', `the pair is at ${state.stage}, not ${options.expectedStage}`, {
          status: 409,
          details: { stage: state.stage, expectedStage: options.expectedStage },
        });
      }
      const failing = failingGuards(await this.deps.guards(runtime, state));
      if (failing.length > 0) {
        await this.reject(runtime, action, state, options, failing.map((g) => `${g.name}: ${g.detail}`).join('; '), { guards: failing });
        throw new PgshiftError('PGSHIFT_ERR_GUARDS_FAILED', `cannot advance ${runtime.id} from ${state.stage}: ${failing.length} guard(s) fail`, {
          status: 409,
          details: { stage: state.stage, guards: failing },
        });
      }
    }
    const intent = await store.createIntent(
      {
        pair: runtime.id,
        action,
        expectedStage: options.expectedStage ?? null,
        reason: options.reason ?? null,
        actor: options.actor,
        options: options.ignoreRollbackWindow ? { ignoreRollbackWindow: true } : null,
      },
      clock.now(),
    );
    this.deps.wake();
    return intent;
  }

  /** Waits until the loop has carried out an intent, or `timeoutMs` passes; returns it as it is then. */
  async waitFor(id: string, timeoutMs: number): Promise<Intent> {
    const { store, clock } = this.deps;
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const intent = await store.getIntent(id);
      if (!intent) throw new PgshiftError('PGSHIFT_ERR_INTENT_NOT_FOUND', `no intent ${id}`, { status: 404 });
      if (intent.status !== 'pending' || clock.now() >= deadline) return intent;
      await clock.sleep(D.INTENT_POLL_MS);
    }
  }

  private async reject(runtime: PairRuntime, action: string, state: PairState, options: RequestOptions, reason: string, details: unknown = null) {
    await this.deps.store.recordEvent(
      auditEvent(runtime.id, { action, from: state.stage, outcome: 'rejected', reason, details, actor: options.actor }),
      this.deps.clock.now(),
    );
  }
}
