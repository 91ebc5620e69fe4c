/** A fixed-size buffer that forgets its oldest entry when full. */
export class RingBuffer<T> {
  private readonly items: (T | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    this.items[this.next] = item;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** The newest `n` entries (all when `n` is omitted), oldest first. */
  last(n = this.count): T[] {
    const take = Math.max(0, Math.min(n, this.count));
    const out: T[] = [];
    for (let i = take; i >= 1; i--) out.push(this.items[(this.next - i + this.capacity) % this.capacity] as T);
    return out;
  }

  newest(): T | undefined {
    return this.count === 0 ? undefined : this.items[(this.next - 1 + this.capacity) % this.capacity];
  }
}
