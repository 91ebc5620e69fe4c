import type { Login } from '../../config/schema.js';
import { withClient } from '../../postgres/connect.js';
import * as W from './defaults.js';
import type { Ledger, WriteKind } from './ledger.js';

export interface VerifyTarget {
  host: string;
  port: number;
  database: string;
  login: Login;
}

export interface LedgerDifference {
  id: string;
  kind: WriteKind;
  problem: string;
}

export interface LedgerReport {
  ok: boolean;
  /** Where the check ran: host:port/database and the server's version. */
  database: string;
  checked: { acknowledged: number; inDoubt: number; failed: number };
  /** Acknowledged writes not in the database (or not as acknowledged). */
  missing: number;
  /** Writes whose id is in the database more than once, acknowledged or not. */
  duplicated: number;
  /** Writes the application was told failed, present anyway. */
  phantom: number;
  /** Sequence values handed out twice (order ids, invoice numbers). */
  sequenceReuse: number;
  /** In-doubt writes (connection lost during COMMIT): how many did land. */
  inDoubtPresent: number;
  /** The first WORKLOAD_REPORT_MAX_ITEMS differences of each kind. */
  differences: LedgerDifference[];
  sequenceValues: { sequence: string; value: number; problem: string }[];
}

interface OrderRow {
  id: string;
  request_id: string | null;
  paid_request: string | null;
  shipped_request: string | null;
  lines: string;
}

/**
 * Checks a database against the application's ledger: every acknowledged write present
 * exactly once and as acknowledged (order id, line count, invoice number), no write id
 * applied twice, no write the application was told failed present, and no value of
 * orders_id_seq or invoice_number_seq issued twice (in the database or in the ledger:
 * two acknowledged writes that got one value, e.g. on two sides). Reads only.
 */
export function verifyLedger(ledger: Ledger, target: VerifyTarget): Promise<LedgerReport> {
  // withClient: a connect timeout, a statement timeout and a coded error when the server
  // cannot be reached. The transaction below is READ ONLY whatever the session's default.
  const endpoint = { host: target.host, port: target.port };
  const connectTarget = { endpoint, database: target.database, login: target.login, applicationName: `${W.WORKLOAD_APPLICATION_NAME}-verify` };
  return withClient(connectTarget, async (client) => {
    // One snapshot for every read, so that rows committed meanwhile cannot make the
    // tables disagree with each other.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const version = (await client.query('SHOW server_version')).rows[0].server_version as string;
    const orders = (
      await client.query<OrderRow>(
        `SELECT o.id, o.request_id, o.paid_request, o.shipped_request,
                (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS lines
           FROM orders o
          WHERE o.request_id IS NOT NULL OR o.paid_request IS NOT NULL OR o.shipped_request IS NOT NULL`,
      )
    ).rows;
    const invoices = (
      await client.query<{ request_id: string; number: string; order_id: string }>(
        'SELECT request_id, number, order_id FROM invoices WHERE request_id IS NOT NULL',
      )
    ).rows;
    const reusedNumbers = (
      await client.query<{ number: string; n: string }>('SELECT number, count(*) AS n FROM invoices GROUP BY number HAVING count(*) > 1 ORDER BY number')
    ).rows;
    await client.query('COMMIT');
    return compare(ledger, `${target.host}:${target.port}/${target.database} (PostgreSQL ${version})`, orders, invoices, reusedNumbers);
  });
}

function compare(
  ledger: Ledger,
  database: string,
  orders: OrderRow[],
  invoices: { request_id: string; number: string; order_id: string }[],
  reusedNumbers: { number: string; n: string }[],
): LedgerReport {
  const found: Record<WriteKind, Map<string, { orderId: number; lines?: number; invoiceNumber?: number }[]>> = {
    order: new Map(),
    pay: new Map(),
    ship: new Map(),
    invoice: new Map(),
  };
  const add = (kind: WriteKind, id: string | null, row: { orderId: number; lines?: number; invoiceNumber?: number }) => {
    if (id === null) return;
    const list = found[kind].get(id) ?? [];
    list.push(row);
    found[kind].set(id, list);
  };
  for (const o of orders) {
    add('order', o.request_id, { orderId: Number(o.id), lines: Number(o.lines) });
    add('pay', o.paid_request, { orderId: Number(o.id) });
    add('ship', o.shipped_request, { orderId: Number(o.id) });
  }
  for (const i of invoices) add('invoice', i.request_id, { orderId: Number(i.order_id), invoiceNumber: Number(i.number) });

  const differences: Record<'missing' | 'duplicated' | 'phantom', LedgerDifference[]> = { missing: [], duplicated: [], phantom: [] };
  const counts = { missing: 0, duplicated: 0, phantom: 0 };
  const note = (what: keyof typeof counts, d: LedgerDifference) => {
    counts[what] += 1;
    if (differences[what].length < W.WORKLOAD_REPORT_MAX_ITEMS) differences[what].push(d);
  };

  for (const [id, ack] of ledger.acknowledged) {
    const rows = found[ack.kind].get(id) ?? [];
    if (rows.length === 0) {
      note('missing', { id, kind: ack.kind, problem: `acknowledged ${ack.kind} of order ${ack.orderId} is not in the database` });
      continue;
    }
    const row = rows[0]!;
    if (row.orderId !== ack.orderId) {
      note('missing', { id, kind: ack.kind, problem: `acknowledged on order ${ack.orderId}, found on order ${row.orderId}` });
    } else if (ack.lines !== undefined && row.lines !== ack.lines) {
      note('missing', { id, kind: ack.kind, problem: `order ${ack.orderId} was acknowledged with ${ack.lines} lines, has ${row.lines}` });
    } else if (ack.invoiceNumber !== undefined && row.invoiceNumber !== ack.invoiceNumber) {
      note('missing', { id, kind: ack.kind, problem: `invoice acknowledged as number ${ack.invoiceNumber}, found as ${row.invoiceNumber}` });
    }
  }
  for (const kind of Object.keys(found) as WriteKind[]) {
    for (const [id, rows] of found[kind]) {
      if (rows.length > 1) {
        const state = ledger.acknowledged.has(id) ? 'acknowledged' : 'unacknowledged';
        note('duplicated', { id, kind, problem: `${state} ${kind} applied ${rows.length} times (orders ${rows.map((r) => r.orderId).join(', ')})` });
      }
      if (ledger.failed.has(id)) note('phantom', { id, kind, problem: `the application was told this ${kind} failed, yet it is in the database` });
    }
  }

  let inDoubtPresent = 0;
  for (const [id, d] of ledger.inDoubt) if (found[d.kind].has(id)) inDoubtPresent += 1;

  // Sequence values: each acknowledged value once in the ledger; each invoice number once in the database.
  const sequenceValues: LedgerReport['sequenceValues'] = [];
  let sequenceReuse = 0;
  const seen = { orders_id_seq: new Map<number, string>(), invoice_number_seq: new Map<number, string>() };
  const claim = (sequence: keyof typeof seen, value: number, id: string) => {
    const other = seen[sequence].get(value);
    if (other === undefined) {
      seen[sequence].set(value, id);
      return;
    }
    sequenceReuse += 1;
    if (sequenceValues.length < W.WORKLOAD_REPORT_MAX_ITEMS) {
      sequenceValues.push({ sequence, value, problem: `given to acknowledged writes ${other} and ${id}` });
    }
  };
  for (const [id, ack] of ledger.acknowledged) {
    if (ack.kind === 'order') claim('orders_id_seq', ack.orderId, id);
    if (ack.kind === 'invoice' && ack.invoiceNumber !== undefined) claim('invoice_number_seq', ack.invoiceNumber, id);
  }
  for (const r of reusedNumbers) {
    sequenceReuse += 1;
    if (sequenceValues.length < W.WORKLOAD_REPORT_MAX_ITEMS) {
      sequenceValues.push({ sequence: 'invoice_number_seq', value: Number(r.number), problem: `${r.n} invoices in the database carry this number` });
    }
  }

  const ok = counts.missing === 0 && counts.duplicated === 0 && counts.phantom === 0 && sequenceReuse === 0;
  return {
    ok,
    database,
    checked: { acknowledged: ledger.acknowledged.size, inDoubt: ledger.inDoubt.size, failed: ledger.failed.size },
    ...counts,
    sequenceReuse,
    inDoubtPresent,
    differences: [...differences.missing, ...differences.duplicated, ...differences.phantom],
    sequenceValues,
  };
}
