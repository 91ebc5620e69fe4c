/**
 * Runs changes to one hosted zone one after another. Route 53 refuses a change while an
 * earlier one to the same zone is still being processed (PriorRequestNotComplete), and
 * interleaved read-modify-write batches could undo each other; so every router in the
 * process queues its change behind the previous one for the zone, INSYNC wait included.
 */
export class ZoneQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Runs `task` when every task queued earlier for `zoneId` has settled. An abort while
   * waiting rejects with the signal's reason and leaves the queue intact for the others.
   */
  async run<T>(zoneId: string, task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const key = zoneKey(zoneId);
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    try {
      await waitOrAbort(previous, signal);
      return await task();
    } finally {
      release();
    }
  }

  /** How many zones have a change running or waiting. */
  get busyZones(): number {
    return this.tails.size;
  }
}

/** The queue every router in this process shares unless a test injects its own. */
export const sharedZoneQueue = new ZoneQueue();

export function zoneKey(zoneId: string): string {
  return zoneId.replace(/^\/?hostedzone\//, '');
}

function waitOrAbort(promise: Promise<void>, signal?: AbortSignal): Promise<void> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
