/**
 * Defaults of the lab's demo application, named in one place (the app is the lab's, not
 * the product's, so they live beside it rather than in src/defaults.ts).
 */

/** Write transactions per second when `npm start` runs the app inside the lab: enough to see, little enough to share 2 cores. */
export const WORKLOAD_LAB_RATE = 20;
/** Write transactions per second of `npm run workload` when no --rate is given. */
export const WORKLOAD_CLI_RATE = 100;
/** Reads as a share of all requests: 0.5 is one read for every write (`--rate` counts writes). */
export const WORKLOAD_READ_SHARE = 0.5;
/**
 * Application instances simulated, each with its own resolver cache, as a fleet of hosts
 * each with its own DNS cache. A weighted record splits a fleet, not one host: one cache
 * sends all of its traffic to one answer for a whole TTL. 500 caches make the share of
 * reads on a side stay within about 2 % of the weight over a few TTLs.
 */
export const WORKLOAD_CLIENTS = 500;
/** Requests in flight at once (beyond the pools' connections they wait in the pool's queue, as in an app); past this the app falls behind its rate (counted, not queued). A commit stall of 150 ms at 1,000 requests/s holds 150. */
export const WORKLOAD_MAX_IN_FLIGHT = 256;
/**
 * Connections per pool (one pool per resolved endpoint). At 500 writes/s on the busy
 * 2-core machine, 16 reached 438 writes/s (requests queued for a connection while commits
 * stalled) and 32 reached 496 (bench/README.md); the lab's servers allow 300 sessions.
 */
export const WORKLOAD_POOL_MAX = 32;
/** A pooled connection is closed after this age, so that pools follow DNS even without errors. */
export const WORKLOAD_POOL_MAX_AGE_SECONDS = 30;
/** Idle connections close after this; a pool of an endpoint no name answers any more empties. */
export const WORKLOAD_POOL_IDLE_MS = 5_000;
export const WORKLOAD_CONNECT_TIMEOUT_MS = 2_000;
/** Statements of the app time out like a web request would. */
export const WORKLOAD_STATEMENT_TIMEOUT_MS = 5_000;
/** Attempts per request, the first included; a request that fails them all is an error. */
export const WORKLOAD_MAX_ATTEMPTS = 3;
/** Backoff before attempt n is up to n times this, with jitter. */
export const WORKLOAD_RETRY_BACKOFF_MS = 50;
/** How often the app pushes its counts to pgshift and rolls its rate window. */
export const WORKLOAD_PUSH_INTERVAL_MS = 1_000;
/** Rates and percentiles cover this many seconds of the newest requests. */
export const WORKLOAD_WINDOW_SECONDS = 10;
/** The scheduler's tick: requests due since the last tick start together. */
export const WORKLOAD_TICK_MS = 10;
/** application_name of the app's sessions; it must not start with `pgshift`, or pgshift's drain would spare them. */
export const WORKLOAD_APPLICATION_NAME = 'demo-shop';
/** Source name in pushes, for the dashboard. */
export const WORKLOAD_SOURCE = 'lab-demo-shop';
/** The ledger of the app's writes, in the lab folder (JSON lines). */
export const WORKLOAD_LEDGER_FILE = 'workload-ledger.jsonl';
/** How many differing items a ledger report lists per kind before it only counts. */
export const WORKLOAD_REPORT_MAX_ITEMS = 20;
/** Orders awaiting payment, shipment or an invoice that the app remembers to work on. */
export const WORKLOAD_MAX_OPEN_ORDERS = 10_000;
/** The seeded catalogue: SKU-1 .. SKU-50, customers 1 .. LAB_SEED_CUSTOMERS. */
export const WORKLOAD_PRODUCTS = 50;
/** How often a standalone app looks at the Route 53 stand-in's zone file for new weights. */
export const WORKLOAD_ZONE_FILE_CHECK_MS = 200;
