import { randomUUID } from 'node:crypto';
import { PgshiftError } from '../errors.js';
import type { AuditEvent, Intent, IntentStatus, LeaderInfo, NewAuditEvent, PairState } from './state.js';
import type { EventPage, NewIntent, PairPatch, ShiftStore } from './store.js';

/**
 * ShiftStore in memory: for a pair whose state need not outlive the process (a
 * rehearsal's staging pair: a crash ends the rehearsal, and its clean-up needs no
 * journal), and for the controller's tick-by-tick tests (STYLE.md tier 2).
 */
export class MemoryShiftStore implements ShiftStore {
  readonly pairs = new Map<string, PairState>();
  readonly intents = new Map<string, Intent>();
  readonly events: AuditEvent[] = [];
  private preflight = new Map<string, unknown>();
  private leaderInfo: LeaderInfo | null = null;
  /** Called first by every method: a subclass may refuse (a test's state database that is down). */
  protected check(): void {}

  async ensurePair(id: string, stage: string, now: number): Promise<PairState> {
    this.check();
    if (!this.pairs.has(id)) {
      this.pairs.set(id, {
        id,
        stage,
        paused: false,
        halted: false,
        haltReason: null,
        stageEnteredAt: now,
        version: 1,
        transition: null,
        lastTransition: null,
        drain: null,
        updatedAt: now,
      });
    }
    return structuredClone(this.pairs.get(id)!);
  }

  async getPair(id: string): Promise<PairState | null> {
    this.check();
    const pair = this.pairs.get(id);
    return pair ? structuredClone(pair) : null;
  }

  async listPairs(): Promise<PairState[]> {
    this.check();
    return [...this.pairs.values()].map((p) => structuredClone(p));
  }

  async updatePair(id: string, expectedVersion: number, patch: PairPatch, now: number, event?: NewAuditEvent): Promise<PairState> {
    this.check();
    const pair = this.pairs.get(id);
    if (!pair || pair.version !== expectedVersion) {
      throw new PgshiftError('PGSHIFT_ERR_STATE_CONFLICT', `pair ${id} changed meanwhile`, { status: 409 });
    }
    const next: PairState = { ...pair, ...structuredClone(patch), version: pair.version + 1, updatedAt: now };
    this.pairs.set(id, next);
    if (event) await this.recordEvent(event, now);
    return structuredClone(next);
  }

  async createIntent(intent: NewIntent, now: number): Promise<Intent> {
    this.check();
    const stored: Intent = { ...intent, id: randomUUID(), createdAt: now, status: 'pending', result: null, finishedAt: null };
    this.intents.set(stored.id, stored);
    return structuredClone(stored);
  }

  async pendingIntents(pair: string): Promise<Intent[]> {
    this.check();
    return [...this.intents.values()].filter((i) => i.pair === pair && i.status === 'pending').map((i) => structuredClone(i));
  }

  async getIntent(id: string): Promise<Intent | null> {
    this.check();
    const intent = this.intents.get(id);
    return intent ? structuredClone(intent) : null;
  }

  async finishIntent(id: string, status: Exclude<IntentStatus, 'pending'>, result: unknown, now: number): Promise<void> {
    this.check();
    const intent = this.intents.get(id);
    if (intent && intent.status === 'pending') this.intents.set(id, { ...intent, status, result, finishedAt: now });
  }

  async recordEvent(event: NewAuditEvent, now: number): Promise<AuditEvent> {
    this.check();
    const stored: AuditEvent = { ...event, id: this.events.length + 1, at: event.at ?? now, details: event.details ?? null };
    this.events.push(stored);
    return stored;
  }

  async listEvents(pair: string, options: { limit: number; before?: number }): Promise<EventPage> {
    this.check();
    const matching = this.events.filter((e) => e.pair === pair && (options.before === undefined || e.id < options.before)).reverse();
    const events = matching.slice(0, options.limit);
    return { events, nextBefore: matching.length > options.limit ? events[events.length - 1]!.id : null };
  }

  async eventsAfter(pair: string, afterId: number, limit: number): Promise<AuditEvent[]> {
    this.check();
    return this.events.filter((e) => e.pair === pair && e.id > afterId).slice(0, limit);
  }

  async savePreflightReport(pair: string, report: unknown): Promise<void> {
    this.check();
    this.preflight.set(pair, report);
  }

  async lastPreflightReport(pair: string): Promise<unknown | null> {
    this.check();
    return this.preflight.get(pair) ?? null;
  }

  async leader(): Promise<LeaderInfo | null> {
    this.check();
    return this.leaderInfo;
  }

  async recordLeader(holder: string, since: number, now: number): Promise<void> {
    this.check();
    this.leaderInfo = { holder, since, seenAt: now };
  }

  async close(): Promise<void> {}
}
