import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Side } from '../../shift/model.js';

/** The writes the demo application makes. */
export type WriteKind = 'order' | 'pay' | 'ship' | 'invoice';

/** A write whose commit returned: what the application was told, to be found in the database. */
export interface Acknowledged {
  id: string;
  kind: WriteKind;
  /** The order written (for `order`, the value orders_id_seq gave it). */
  orderId: number;
  /** For `order`: how many lines it has. */
  lines?: number;
  /** For `invoice`: the value invoice_number_seq gave it (the sequence no column owns). */
  invoiceNumber?: number;
  /** Where the server said the write ran. */
  side: Side | null;
  at: number;
}

export type LedgerLine =
  | { t: 'attempt'; id: string; kind: WriteKind; orderId?: number }
  | ({ t: 'ack' } & Acknowledged)
  /** The server answered with an error on a live session: certainly rolled back. */
  | { t: 'failed'; id: string };

/**
 * The application's record of its writes, kept apart from the database it checks. A
 * write id is written as attempted before the first statement, as acknowledged only
 * after COMMIT returned, and as failed when the server refused it on a live session;
 * anything else (a connection lost during COMMIT) stays in doubt. With a file, every
 * line is appended as JSON, so `npm run workload -- --verify` can check a later run.
 */
export class Ledger {
  readonly acknowledged = new Map<string, Acknowledged>();
  /** Attempted, neither acknowledged nor certainly failed. */
  readonly inDoubt = new Map<string, { kind: WriteKind; orderId?: number }>();
  readonly failed = new Set<string>();
  private readonly out: WriteStream | null;

  constructor(readonly file: string | null = null) {
    this.out = file ? createWriteStream(file, { flags: 'a', mode: 0o600 }) : null;
    this.out?.on('error', () => undefined);
  }

  /** A ledger as a file holds it (every run appended to it). */
  static async load(file: string): Promise<Ledger> {
    const ledger = new Ledger(null);
    const text = await readFile(file, 'utf8');
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        ledger.apply(JSON.parse(line) as LedgerLine);
      } catch {
        // A torn last line of a crashed run: that write stays unrecorded, hence in doubt at most.
      }
    }
    return Object.assign(ledger, { file });
  }

  attempt(id: string, kind: WriteKind, orderId?: number): void {
    this.record({ t: 'attempt', id, kind, ...(orderId === undefined ? {} : { orderId }) });
  }

  acknowledge(entry: Acknowledged): void {
    this.record({ t: 'ack', ...entry });
  }

  fail(id: string): void {
    this.record({ t: 'failed', id });
  }

  async close(): Promise<void> {
    if (!this.out || this.out.closed) return;
    this.out.end();
    await once(this.out, 'close').catch(() => undefined);
  }

  private record(line: LedgerLine): void {
    this.apply(line);
    this.out?.write(`${JSON.stringify(line)}\n`);
  }

  private apply(line: LedgerLine): void {
    switch (line.t) {
      case 'attempt':
        if (!this.acknowledged.has(line.id)) this.inDoubt.set(line.id, { kind: line.kind, ...(line.orderId === undefined ? {} : { orderId: line.orderId }) });
        this.failed.delete(line.id);
        break;
      case 'ack': {
        const { t: _t, ...entry } = line;
        this.acknowledged.set(line.id, entry);
        this.inDoubt.delete(line.id);
        this.failed.delete(line.id);
        break;
      }
      case 'failed':
        if (!this.acknowledged.has(line.id)) {
          this.inDoubt.delete(line.id);
          this.failed.add(line.id);
        }
        break;
    }
  }
}
