import Type from 'typebox';
import { systemClock, type Clock } from '../clock.js';
import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import { SIGNAL_NAMES, signalId, type Measurement, type SignalProvider } from './port.js';

/**
 * Error and request counts the applications push themselves: what the database
 * cannot see (timeouts in the pool, wrong results, HTTP 5xx). Each push carries the
 * counts of the pusher's own interval since its previous push, not running totals,
 * so many instances can push independently and their counts add up.
 */
export const AppMetricsPushSchema = Type.Object(
  {
    requests: Type.Integer({ minimum: 0, maximum: 1e12, description: 'requests handled since the previous push' }),
    errors: Type.Integer({ minimum: 0, maximum: 1e12, description: 'of those, requests that failed because of the database' }),
    source: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'who pushes (service and instance), for the dashboard' }),
    ),
    side: Type.Optional(
      Type.Union([Type.Literal('blue'), Type.Literal('green')], { description: 'the side the pusher used, when it knows' }),
    ),
  },
  { additionalProperties: false },
);
export type AppMetricsPush = Type.Static<typeof AppMetricsPushSchema>;

interface StoredPush extends AppMetricsPush {
  at: number;
}

/** The pushes of one pair within the window, bounded in count. */
export class AppMetricsInbox {
  private pushes: StoredPush[] = [];
  private received = 0;

  constructor(
    private readonly windowMs: number,
    private readonly clock: Clock = systemClock,
    private readonly maxPushes = D.APP_METRICS_MAX_PUSHES,
  ) {}

  /** Accepts one push. Throws PGSHIFT_ERR_BAD_REQUEST (400) when errors exceed requests. */
  add(push: AppMetricsPush): void {
    if (push.errors > push.requests) {
      throw new PgshiftError('PGSHIFT_ERR_BAD_REQUEST', `errors (${push.errors}) cannot exceed requests (${push.requests})`, {
        status: 400,
      });
    }
    this.prune();
    this.pushes.push({ ...push, at: this.clock.now() });
    if (this.pushes.length > this.maxPushes) this.pushes.splice(0, this.pushes.length - this.maxPushes);
    this.received += 1;
  }

  /** Sums over the window; null when nothing was pushed within it. */
  summary(): { requests: number; errors: number; pushes: number; sources: string[]; bySide: Record<string, { requests: number; errors: number }> } | null {
    this.prune();
    if (this.pushes.length === 0) return null;
    const bySide: Record<string, { requests: number; errors: number }> = {};
    let requests = 0;
    let errors = 0;
    const sources = new Set<string>();
    for (const p of this.pushes) {
      requests += p.requests;
      errors += p.errors;
      if (p.source) sources.add(p.source);
      if (p.side) {
        const s = (bySide[p.side] ??= { requests: 0, errors: 0 });
        s.requests += p.requests;
        s.errors += p.errors;
      }
    }
    return { requests, errors, pushes: this.pushes.length, sources: [...sources].sort(), bySide };
  }

  /** Pushes accepted since start, within the window or not. */
  get totalReceived(): number {
    return this.received;
  }

  private prune(): void {
    const since = this.clock.now() - this.windowMs;
    if (this.pushes.length > 0 && this.pushes[0]!.at < since) this.pushes = this.pushes.filter((p) => p.at >= since);
  }
}

/** Failed over handled requests pushed within the window. No requests pushed: unknown, never healthy. */
export function appErrorSignal(inbox: AppMetricsInbox, clock: Clock = systemClock): SignalProvider {
  return {
    id: signalId(SIGNAL_NAMES.appErrorRate, null),
    name: SIGNAL_NAMES.appErrorRate,
    side: null,
    measure: async (): Promise<Measurement> => {
      const summary = inbox.summary();
      if (!summary) {
        return {
          value: null,
          at: clock.now(),
          error: inbox.totalReceived === 0 ? 'no application metrics pushed yet' : 'no application metrics pushed within the window',
        };
      }
      if (summary.requests === 0) {
        return { value: null, at: clock.now(), error: 'the pushed metrics count no requests within the window', detail: summary };
      }
      return { value: summary.errors / summary.requests, at: clock.now(), detail: summary };
    },
  };
}
