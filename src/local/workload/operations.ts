import type pg from 'pg';
import * as D from '../../defaults.js';
import * as W from './defaults.js';
import type { WriteKind } from './ledger.js';

/**
 * The demo shop's statements over the lab's demo schema (src/local/seed.ts). Every one
 * asks the server where it ran (inet_server_port()) in the same round trip, so that the
 * application counts a request on the side that really answered it, whatever DNS said.
 */

export type ReadKind = 'customer_history' | 'product_list' | 'best_sellers';

export interface ReadResult {
  port: number;
  rows: number;
}

/** A customer's newest orders with their line counts: an index lookup and a join. */
export async function readCustomerHistory(client: pg.PoolClient, customerId: number): Promise<ReadResult> {
  const res = await client.query<{ port: number; n: number }>(
    `SELECT inet_server_port() AS port,
            (SELECT count(*)::int FROM (
               SELECT o.id, o.status, o.total_cents, o.created_at, count(l.*) AS lines
                 FROM orders o LEFT JOIN order_lines l ON l.order_id = o.id
                WHERE o.customer_id = $1
                GROUP BY o.id
                ORDER BY o.created_at DESC
                LIMIT 20) h) AS n`,
    [customerId],
  );
  return { port: res.rows[0]!.port, rows: res.rows[0]!.n };
}

/** Products of one colour by price (hstore lookup over the catalogue). */
export async function readProductList(client: pg.PoolClient, color: string): Promise<ReadResult> {
  const res = await client.query<{ port: number; n: number }>(
    `SELECT inet_server_port() AS port,
            (SELECT count(*)::int FROM (
               SELECT sku, title, price_cents FROM products WHERE attributes -> 'color' = $1 ORDER BY price_cents
             ) p) AS n`,
    [color],
  );
  return { port: res.rows[0]!.port, rows: res.rows[0]!.n };
}

/** Units sold per product over the newest 2,000 orders: the heavy read that shows latency. */
export async function readBestSellers(client: pg.PoolClient): Promise<ReadResult> {
  const res = await client.query<{ port: number; n: number }>(
    `SELECT inet_server_port() AS port,
            (SELECT count(*)::int FROM (
               SELECT p.sku, p.title, sum(l.quantity) AS units
                 FROM order_lines l JOIN products p USING (sku)
                WHERE l.order_id > (SELECT max(id) - 2000 FROM orders)
                GROUP BY p.sku, p.title
                ORDER BY units DESC
                LIMIT 10) b) AS n`,
  );
  return { port: res.rows[0]!.port, rows: res.rows[0]!.n };
}

export interface WriteResult {
  port: number;
  orderId: number;
  lines?: number;
  invoiceNumber?: number;
}

export interface OrderDraft {
  customerId: number;
  skus: string[];
  quantities: number[];
}

/**
 * Places an order with its lines in one transaction: the order takes its id from
 * orders_id_seq and its total from the catalogue, then the lines go in. COMMIT is sent
 * by the caller's `commit` step so that a failure there can be told apart.
 */
export async function placeOrder(client: pg.PoolClient, id: string, draft: OrderDraft): Promise<WriteResult> {
  await client.query('BEGIN');
  const order = await client.query<{ id: string; port: number }>(
    `INSERT INTO orders (customer_id, total_cents, request_id)
     SELECT $1, sum(p.price_cents * q.qty), $2
       FROM unnest($3::text[], $4::int[]) AS q(sku, qty) JOIN products p USING (sku)
     RETURNING id, inet_server_port() AS port`,
    [draft.customerId, id, draft.skus, draft.quantities],
  );
  const orderId = Number(order.rows[0]!.id);
  const lines = await client.query(
    `INSERT INTO order_lines (order_id, line_no, sku, quantity)
     SELECT $1, q.n, q.sku, q.qty FROM unnest($2::text[], $3::int[]) WITH ORDINALITY AS q(sku, qty, n)`,
    [orderId, draft.skus, draft.quantities],
  );
  return { port: order.rows[0]!.port, orderId, lines: lines.rowCount ?? 0 };
}

/** Marks an order paid (or shipped): one UPDATE that only moves an order forward. 0 rows when it is not in the expected status. */
export async function advanceOrder(client: pg.PoolClient, id: string, kind: 'pay' | 'ship', orderId: number): Promise<WriteResult | null> {
  const sql =
    kind === 'pay'
      ? `UPDATE orders SET status = 'paid', paid_request = $2 WHERE id = $1 AND status = 'new' RETURNING inet_server_port() AS port`
      : `UPDATE orders SET status = 'shipped', shipped_request = $2 WHERE id = $1 AND status = 'paid' RETURNING inet_server_port() AS port`;
  const res = await client.query<{ port: number }>(sql, [orderId, id]);
  return res.rowCount === 1 ? { port: res.rows[0]!.port, orderId } : null;
}

/** Issues an invoice; its number comes from invoice_number_seq, which no column owns. */
export async function issueInvoice(client: pg.PoolClient, id: string, orderId: number): Promise<WriteResult> {
  const res = await client.query<{ number: string; port: number }>(
    `INSERT INTO invoices (order_id, request_id) VALUES ($1, $2) RETURNING number, inet_server_port() AS port`,
    [orderId, id],
  );
  return { port: res.rows[0]!.port, orderId, invoiceNumber: Number(res.rows[0]!.number) };
}

/**
 * After a connection was lost during a write: did it commit? Looks the write up by its
 * id, so that the application neither reports a committed write as failed nor applies
 * it twice by retrying. null when it is not there.
 */
export async function findWrite(client: pg.PoolClient, kind: WriteKind, id: string, orderId?: number): Promise<WriteResult | null> {
  switch (kind) {
    case 'order': {
      const res = await client.query<{ id: string; lines: number; port: number }>(
        `SELECT o.id, (SELECT count(*)::int FROM order_lines l WHERE l.order_id = o.id) AS lines, inet_server_port() AS port
           FROM orders o WHERE o.request_id = $1`,
        [id],
      );
      const row = res.rows[0];
      return row ? { port: row.port, orderId: Number(row.id), lines: row.lines } : null;
    }
    case 'pay':
    case 'ship': {
      const column = kind === 'pay' ? 'paid_request' : 'shipped_request';
      const res = await client.query<{ port: number }>(`SELECT inet_server_port() AS port FROM orders WHERE id = $1 AND ${column} = $2`, [orderId, id]);
      return res.rows[0] ? { port: res.rows[0].port, orderId: orderId! } : null;
    }
    case 'invoice': {
      const res = await client.query<{ number: string; order_id: string; port: number }>(
        'SELECT number, order_id, inet_server_port() AS port FROM invoices WHERE request_id = $1',
        [id],
      );
      const row = res.rows[0];
      return row ? { port: row.port, orderId: Number(row.order_id), invoiceNumber: Number(row.number) } : null;
    }
  }
}

/** A random order of 1-4 distinct products with quantities 1-3. */
export function draftOrder(random: () => number): OrderDraft {
  const count = 1 + Math.floor(random() * 4);
  const skus = new Set<string>();
  while (skus.size < count) skus.add(`SKU-${1 + Math.floor(random() * W.WORKLOAD_PRODUCTS)}`);
  return {
    customerId: 1 + Math.floor(random() * D.LAB_SEED_CUSTOMERS),
    skus: [...skus],
    quantities: [...skus].map(() => 1 + Math.floor(random() * 3)),
  };
}
