import Type from 'typebox';
import Value from 'typebox/value';
import * as D from '../../defaults.js';
import { refillBucket, type BucketLevel } from '../../traffic/budget.js';
import { serverError, throttling, type Route53Fault } from './errors.js';

/**
 * Switchable misbehaviour for tests: throttle or fail a share of calls or the next N,
 * keep changes PENDING longer, turn PriorRequestNotComplete on or off, answer slowly,
 * and the account request limit (on by default, as in Route 53). Settable in the
 * process (`standIn.faults.set(...)`) and over HTTP (`POST /_lab/faults`), so a test can
 * flip them for a stand-in that runs in another process.
 */
export const FaultSettingsSchema = Type.Object(
  {
    /** Share of calls (0..1) answered with Throttling. */
    throttleRate: Type.Number({ minimum: 0, maximum: 1 }),
    /** The next N calls are answered with Throttling. */
    throttleNext: Type.Integer({ minimum: 0 }),
    /** Share of calls (0..1) answered with a 5xx. */
    serverErrorRate: Type.Number({ minimum: 0, maximum: 1 }),
    /** The next N calls are answered with a 5xx. */
    serverErrorNext: Type.Integer({ minimum: 0 }),
    serverErrorStatus: Type.Union([Type.Literal(500), Type.Literal(502), Type.Literal(503), Type.Literal(504)]),
    /** How long a change submitted from now on stays PENDING. */
    insyncDelayMs: Type.Integer({ minimum: 0 }),
    /** Refuse a change with PriorRequestNotComplete while an earlier one to the zone is PENDING. */
    priorRequestCheck: Type.Boolean(),
    /** Operations the throttle and 5xx faults apply to (e.g. `ChangeResourceRecordSets`); empty means all. */
    operations: Type.Array(Type.String({ minLength: 1 })),
    /**
     * Extra time before answering, per operation (e.g. `{ "ListResourceRecordSets": 3000 }`):
     * a slow Route 53. Applies to every call of the operation, answered or refused.
     */
    delayMs: Type.Record(Type.String({ minLength: 1 }), Type.Integer({ minimum: 0 })),
    /**
     * Route 53's account-wide request limit (aws-api.md 1.7): a token bucket of
     * `accountBurst` refilling at `accountPerSecond`, across every API call the stand-in
     * serves; a call that finds it empty is answered 400 Throttling "Rate exceeded". On by
     * default, so a design that exceeds the real limits fails in tests.
     */
    accountLimit: Type.Boolean(),
    accountBurst: Type.Integer({ minimum: 1 }),
    accountPerSecond: Type.Number({ exclusiveMinimum: 0 }),
  },
  { additionalProperties: false },
);
export type FaultSettings = Type.Static<typeof FaultSettingsSchema>;

export const FaultPatchSchema = Type.Partial(FaultSettingsSchema, { additionalProperties: false });
export type FaultPatch = Type.Static<typeof FaultPatchSchema>;

export class FaultPatchError extends Error {
  readonly problems: string[];

  constructor(problems: string[]) {
    super(`invalid fault settings: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

export class FaultInjector {
  private readonly initial: FaultSettings;
  private current: FaultSettings;
  private readonly random: () => number;

  constructor(
    base: { insyncDelayMs: number; priorRequestCheck: boolean; accountLimit?: boolean; accountBurst?: number; accountPerSecond?: number },
    random: () => number,
  ) {
    this.initial = {
      throttleRate: 0,
      throttleNext: 0,
      serverErrorRate: 0,
      serverErrorNext: 0,
      serverErrorStatus: 500,
      insyncDelayMs: base.insyncDelayMs,
      priorRequestCheck: base.priorRequestCheck,
      operations: [],
      delayMs: {},
      accountLimit: base.accountLimit ?? true,
      accountBurst: base.accountBurst ?? D.LAB_ROUTE53_ACCOUNT_BURST,
      accountPerSecond: base.accountPerSecond ?? D.LAB_ROUTE53_ACCOUNT_PER_SECOND,
    };
    this.current = structuredClone(this.initial);
    this.random = random;
  }

  get settings(): FaultSettings {
    return structuredClone(this.current);
  }

  /** Applies a partial update; throws FaultPatchError (and changes nothing) when it is invalid. */
  set(patch: unknown): FaultSettings {
    if (!Value.Check(FaultPatchSchema, patch)) {
      const problems = [...Value.Errors(FaultPatchSchema, patch)].map((e) => {
        const issue = e as { instancePath?: string; message?: string; params?: { additionalProperties?: string[] } };
        const extra = issue.params?.additionalProperties;
        return extra ? `unknown setting ${extra.join(', ')}` : `${issue.instancePath || '(body)'} ${issue.message ?? 'is invalid'}`;
      });
      throw new FaultPatchError(problems);
    }
    this.current = { ...this.current, ...structuredClone(patch) };
    return this.settings;
  }

  /** Back to no faults and the stand-in's own INSYNC delay and PriorRequestNotComplete setting. */
  reset(): FaultSettings {
    this.current = structuredClone(this.initial);
    return this.settings;
  }

  /** The fault this call of `operation` gets, or null; counts down the "next N" settings. */
  pick(operation: string): Route53Fault | null {
    const s = this.current;
    if (s.operations.length > 0 && !s.operations.includes(operation)) return null;
    if (s.serverErrorNext > 0) {
      s.serverErrorNext--;
      return serverError(s.serverErrorStatus);
    }
    if (s.throttleNext > 0) {
      s.throttleNext--;
      return throttling();
    }
    if (s.serverErrorRate > 0 && this.random() < s.serverErrorRate) return serverError(s.serverErrorStatus);
    if (s.throttleRate > 0 && this.random() < s.throttleRate) return throttling();
    return null;
  }
}

/**
 * Route 53's account-wide token bucket, as the stand-in enforces it: `admit` answers
 * whether one more API call may be served now (spending a token) or must be refused
 * with Throttling. Refused calls spend nothing.
 */
export class AccountLimiter {
  private level: BucketLevel | null = null;

  admit(now: number, settings: Pick<FaultSettings, 'accountLimit' | 'accountBurst' | 'accountPerSecond'>): boolean {
    if (!settings.accountLimit) {
      this.level = null;
      return true;
    }
    const bucket = { burst: settings.accountBurst, requestsPerSecond: settings.accountPerSecond };
    const level = refillBucket(this.level ?? { tokens: bucket.burst, at: now }, now, bucket);
    if (level.tokens < 1) {
      this.level = level;
      return false;
    }
    this.level = { ...level, tokens: level.tokens - 1 };
    return true;
  }
}
