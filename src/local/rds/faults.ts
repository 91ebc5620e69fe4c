import { RdsApiError } from './errors.js';

export interface FaultSpec {
  /** Only this action (e.g. `CreateDBClusterSnapshot`); every action when absent. */
  action?: string;
  /** Wire code; default `Throttling`. */
  code?: string;
  /** Default 400. */
  status?: number;
  message?: string;
  /** How many requests fail; default 1. */
  times?: number;
}

/**
 * Switchable faults for tests of what pgshift does when RDS misbehaves: the next N
 * requests (of one action or any) fail with the given error, e.g. `Throttling` 400,
 * `InternalFailure` 500 or `InvalidDBClusterStateFault` 400.
 */
type PendingFault = Required<Omit<FaultSpec, 'action'>> & { action: string | undefined };

export class RdsFaults {
  private readonly pending: PendingFault[] = [];

  inject(spec: FaultSpec = {}): void {
    this.pending.push({
      action: spec.action,
      code: spec.code ?? 'Throttling',
      status: spec.status ?? 400,
      message: spec.message ?? (spec.code === undefined ? 'Rate exceeded' : `injected fault ${spec.code}`),
      times: spec.times ?? 1,
    });
  }

  clear(): void {
    this.pending.length = 0;
  }

  /** The error this request must fail with, consuming one use of the fault; null when none applies. */
  take(action: string): RdsApiError | null {
    const fault = this.pending.find((f) => f.action === undefined || f.action === action);
    if (!fault) return null;
    fault.times -= 1;
    if (fault.times <= 0) this.pending.splice(this.pending.indexOf(fault), 1);
    return new RdsApiError(fault.code, fault.status, fault.message);
  }
}
