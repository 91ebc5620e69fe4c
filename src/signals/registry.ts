import type { PairSignals } from './pair-signals.js';

/** The samplers of every pair the service manages, by pair id; what the API reads. */
export class SignalRegistry {
  private readonly pairs = new Map<string, PairSignals>();

  /** Adds a pair's sampler. Throws when the pair already has one. */
  add(signals: PairSignals): void {
    if (this.pairs.has(signals.pairId)) throw new Error(`pair ${signals.pairId} already has signals`);
    this.pairs.set(signals.pairId, signals);
  }

  /** The pair's sampler; undefined for a pair the service does not manage. */
  get(pairId: string): PairSignals | undefined {
    return this.pairs.get(pairId);
  }

  all(): PairSignals[] {
    return [...this.pairs.values()];
  }

  startAll(): void {
    for (const p of this.pairs.values()) p.start();
  }

  /** Stops every sampler. Idempotent. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.pairs.values()].map((p) => p.stop()));
  }
}
