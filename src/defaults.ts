/**
 * Every default pgshift uses, named, in one place. Config values override these; code
 * never hides a magic number of its own.
 */

// config
export const DEFAULT_CONFIG_PATH = 'config/local.yaml';
export const CONFIG_ERROR_EXIT_CODE = 2;

// service
export const DEFAULT_LISTEN_HOST = '127.0.0.1';
export const DEFAULT_LISTEN_PORT = 7070;
export const DEFAULT_LOG_LEVEL = 'info';
export const SHUTDOWN_GRACE_MS = 10_000;

// pairs
export const DEFAULT_READ_STEPS = [10, 25, 50, 100] as const;
export const DEFAULT_BAKE_SECONDS = 300;
export const DEFAULT_RECORD_TTL_SECONDS = 5;
export const DEFAULT_PUBLICATION = 'pgshift_pub';
export const DEFAULT_SUBSCRIPTION = 'pgshift_sub';
export const PGSHIFT_SCHEMA = 'pgshift';

// signals
export const DEFAULT_SAMPLE_SECONDS = 1;
export const DEFAULT_CONSECUTIVE_BREACHES = 3;
export const DEFAULT_MAX_LAG_SECONDS = 5;
export const DEFAULT_MAX_LAG_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_PROBE_ERROR_RATE = 0.05;
export const DEFAULT_MAX_PROBE_P95_MS = 500;
export const DEFAULT_PROBE_TIMEOUT_MS = 1_000;
export const DEFAULT_MAX_DB_ERROR_RATE = 0.2;
export const DEFAULT_MAX_APP_ERROR_RATE = 0.05;

// postgres connections
export const PG_CONNECT_TIMEOUT_MS = 5_000;
export const PG_STATEMENT_TIMEOUT_MS = 30_000;
export const PG_APPLICATION_NAME = 'pgshift';

// replication setup
export const INITIAL_SYNC_TIMEOUT_MS = 10 * 60_000;
export const INITIAL_SYNC_POLL_MS = 200;

// embedded lab
export const LAB_DIR = '.pgshift';
export const LAB_OS_USER = 'postgres';
export const LAB_DATABASE = 'demo';
export const LAB_APP_ROLE = 'app';
export const LAB_PGSHIFT_ROLE = 'pgshift';
export const LAB_ADMIN_ROLE = 'postgres';
export const LAB_SERVER_START_TIMEOUT_MS = 30_000;
export const LAB_SEED_CUSTOMERS = 2_000;
export const LAB_SEED_ORDERS = 5_000;
