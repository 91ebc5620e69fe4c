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
/** ECS's own default stopTimeout: SIGKILL follows SIGTERM this long after (the deploy kit sets 60 s). */
export const DEFAULT_STOP_TIMEOUT_SECONDS = 30;
/** Of the stop timeout, kept for what follows the step in flight: the lease, the HTTP server, the pools. */
export const STOP_RESERVE_MS = 5_000;
/** pgshift gives up and exits 1 this long before the stop timeout, so that its own log says why, not ECS's SIGKILL. */
export const STOP_EXIT_MARGIN_MS = 1_000;

// pairs
export const DEFAULT_READ_STEPS = [10, 25, 50, 100] as const;
export const DEFAULT_BAKE_SECONDS = 300;
// the write cutover (issue 13)
/** The fence took 4-15 ms on the lab; seconds leave room for a busy subscriber without a long write pause. */
export const DEFAULT_CUTOVER_MAX_FREEZE_SECONDS = 5;
export const DEFAULT_CUTOVER_VALIDATE_BUDGET_MS = 2_000;
export const DEFAULT_CUTOVER_EXACT_COUNT_MAX_ROWS = 100_000;
export const DEFAULT_CUTOVER_MAX_LAG_SECONDS = 2;
/** How long a cutover's checks wait for a first lag reading (a process that just took over has none yet). */
export const CUTOVER_MEASURE_WAIT_MS = 10_000;
export const DEFAULT_CUTOVER_SNAPSHOT_MAX_AGE_SECONDS = 3_600;
/** A day at green before the way back may be closed. */
export const DEFAULT_CUTOVER_ROLLBACK_WINDOW_SECONDS = 86_400;
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
/** A schema comparison reads the catalogs of both sides: slower than the other signals, still well inside a bake time. */
export const DEFAULT_SCHEMA_DRIFT_SAMPLE_SECONDS = 30;
/** The schema drift signal's name (signals/ measures it; shift/ names it as the cause of a revert). */
export const SCHEMA_DRIFT_SIGNAL = 'schema.drift_objects';
/** watch: schema changes during a shift are reported as drift; block: the application roles' DDL is also refused on the writing side. */
export const DEFAULT_DDL_MODE = 'watch';
/** The DDL fence's event trigger and function, followed by the pair id. */
export const DDL_FENCE_PREFIX = 'pgshift_ddl_fence_';
/** After a failed attempt to put the DDL fence in place, the next one waits this long (the attempt runs at every signal round). */
export const DDL_FENCE_RETRY_MS = 10_000;
/**
 * How long broken replication's reading waits for the schema comparison that names its
 * cause: the reading decides a revert, which must not wait long for its explanation
 * (a later reading carries the cause when this one did not).
 */
export const DRIFT_CAUSE_WAIT_MS = 300;
/** Problems (schema differences, replication problems) named in a reason before the rest are only counted. */
export const REASON_MAX_NAMED_PROBLEMS = 5;
/** Relative limits (green against blue, the control), when configured without their own figures. */
export const DEFAULT_RELATIVE_FACTOR = 2;
export const DEFAULT_RELATIVE_P95_MARGIN_MS = 50;
export const DEFAULT_RELATIVE_ERROR_RATE_MARGIN = 0.02;

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

// clusters: RDS discovery, snapshots, cluster checks (issue 4)
/** Engines pgshift can upgrade: Aurora PostgreSQL, RDS Multi-AZ PostgreSQL clusters, plain PostgreSQL. */
export const POSTGRES_ENGINES = ['aurora-postgresql', 'postgres'] as const;
export const RDS_API_VERSION = '2014-10-31';
/** First and longest pause between DescribeDBClusterSnapshots polls while a snapshot is created. */
export const SNAPSHOT_POLL_MIN_MS = 1_000;
export const SNAPSHOT_POLL_MAX_MS = 15_000;
/** Aurora snapshots are storage-level and usually take minutes; pg_dump of a big database takes longer. */
export const SNAPSHOT_TIMEOUT_MS = 60 * 60_000;
export const SNAPSHOT_ID_PREFIX = 'pgshift';
export const PG_DUMP_COMMAND = 'pg_dump';
export const PG_DUMPALL_COMMAND = 'pg_dumpall';
export const PSQL_COMMAND = 'psql';
export const PG_RESTORE_COMMAND = 'pg_restore';
export const SNAPSHOT_MANIFEST_FILE = 'manifest.json';

// embedded lab: RDS stand-in (issue 4)
export const LAB_RDS_HOST = '127.0.0.1';
export const LAB_RDS_DEFAULT_MAX_RECORDS = 100;
export const LAB_RDS_MIN_MAX_RECORDS = 20;
export const LAB_RDS_MAX_MAX_RECORDS = 100;
/** Aurora's default backup retention: the PITR window reaches back this far at most. */
export const LAB_RDS_BACKUP_RETENTION_DAYS = 1;
/** How long a deleted DB instance stays `deleting` in the stand-in before it is gone. */
export const LAB_RDS_DELETE_DELAY_MS = 300;
/** The instance class the stand-in reports for the lab's own clusters' writers. */
export const LAB_RDS_INSTANCE_CLASS = 'db.r6g.large';

// green creation through RDS (issue 19)
/** First and longest pause between Describe polls while green is created or deleted. */
export const GREEN_CREATE_POLL_MIN_MS = 1_000;
export const GREEN_CREATE_POLL_MAX_MS = 30_000;
/** Creating an Aurora cluster and its writer usually takes 10-20 minutes. */
export const GREEN_CREATE_TIMEOUT_MS = 60 * 60_000;
/** Deleting one takes a few minutes. */
export const GREEN_DELETE_TIMEOUT_MS = 30 * 60_000;
/** The writer instance pgshift creates is `<clusterId><suffix>`. */
export const GREEN_WRITER_SUFFIX = '-writer';
/** Fake credentials for the lab's AWS stand-ins: any non-empty strings satisfy the SDK and the CLI. */
export const LAB_AWS_ACCESS_KEY_ID = 'pgshift-lab';
export const LAB_AWS_SECRET_ACCESS_KEY = 'pgshift-lab-not-a-secret';

// traffic: weighted Route 53 records (issue 3)
/** Weights of records pgshift creates: every query to blue until an operator advances. */
export const INITIAL_GREEN_PERCENT = 0;
/** Attempts per Route 53 call when the config gives none (config: aws.maxAttempts). */
export const ROUTE53_MAX_ATTEMPTS = 5;
/** Full-jitter backoff between attempts: random(0, min(max, base * 2^(attempt-1))). */
export const ROUTE53_RETRY_BASE_MS = 250;
export const ROUTE53_RETRY_MAX_DELAY_MS = 20_000;
/** Route 53 documents "generally within 60 seconds"; three times that before giving up. */
export const ROUTE53_INSYNC_TIMEOUT_MS = 180_000;
/** GetChange polling: first pause, growth factor, longest pause. Short, because it is part of the write window. */
export const ROUTE53_INSYNC_POLL_MS = 250;
export const ROUTE53_INSYNC_POLL_FACTOR = 1.5;
export const ROUTE53_INSYNC_POLL_MAX_MS = 2_000;
/** ListResourceRecordSets page size; the API returns at most 300. */
export const ROUTE53_LIST_PAGE_SIZE = 100;
/** ChangeBatch.Comment is at most 256 characters. */
export const ROUTE53_COMMENT_MAX_LENGTH = 256;

// traffic: the account-wide Route 53 budget and shared observation (issue 11)
/**
 * pgshift's own token bucket for every Route 53 call of the process (config:
 * aws.route53.requestsPerSecond / burst). Route 53 gives the whole ACCOUNT a bucket of
 * 50 refilling at 10/s (aws-api.md 1.7), shared with every other tool: take half the rate
 * and under half the burst, leaving the rest to Terraform, external-dns and people.
 */
export const ROUTE53_REQUESTS_PER_SECOND = 5;
export const ROUTE53_BURST = 20;
/** How old a zone listing may be when the controller reads weights (config: aws.route53.observeMs). */
export const ROUTE53_OBSERVE_MS = 5_000;
/** Shortest time between the starts of two listings of one zone, however many fresh reads are asked for (config: aws.route53.minListIntervalMs). */
export const ROUTE53_MIN_LIST_INTERVAL_MS = 1_000;
/** Page size of the zone watcher's listing: the API's maximum, so a round is as few calls as possible. */
export const ROUTE53_WATCH_PAGE_SIZE = 300;
/** Changes the process remembers as INSYNC, so a late waiter needs no GetChange. */
export const ROUTE53_INSYNC_MEMORY = 1_000;

// embedded lab: Route 53 stand-in (issue 3)
/** max_connections of the lab's servers. */
export const LAB_MAX_CONNECTIONS = 300;
export const LAB_ROUTE53_HOST = '127.0.0.1';
/** How long a change stays PENDING in the lab's stand-in (tests set their own). */
export const LAB_ROUTE53_INSYNC_DELAY_MS = 1_000;
export const LAB_ROUTE53_FILE = 'route53.json';
export const LAB_ROUTE53_CALLER_REFERENCE = 'pgshift-lab-zone';
export const ROUTE53_STANDIN_MAX_PAGE = 300;
export const ROUTE53_STANDIN_ZONE_PAGE = 100;
export const ROUTE53_STANDIN_MAX_BODY_BYTES = 2 * 1024 * 1024;
export const ROUTE53_STANDIN_REQUEST_LOG_LIMIT = 10_000;
export const ROUTE53_STANDIN_CHANGE_HISTORY = 1_000;
/** Route 53's per-request quotas: ResourceRecord elements (UPSERT counts twice) and value characters. */
export const ROUTE53_MAX_RECORDS_PER_BATCH = 1_000;
export const ROUTE53_MAX_VALUE_CHARS_PER_BATCH = 32_000;
export const ROUTE53_MAX_WEIGHTED_PER_GROUP = 100;
export const ROUTE53_APEX_SOA_TTL = 900;
export const ROUTE53_APEX_NS_TTL = 172_800;
/** The account limits the stand-in enforces by default, as Route 53 documents them (aws-api.md 1.7). */
export const LAB_ROUTE53_ACCOUNT_BURST = 50;
export const LAB_ROUTE53_ACCOUNT_PER_SECOND = 10;

// preflight (issue 5)
/** Each preflight query gets this long; a check that needs longer is reported as failed, not passed. */
export const PREFLIGHT_STATEMENT_TIMEOUT_MS = 10_000;
/** Concurrent sessions per side, database and login while the checks run. */
export const PREFLIGHT_SESSIONS_PER_DATABASE = 3;
/** How many objects a finding names before it says "and N more". */
export const PREFLIGHT_MAX_LISTED_OBJECTS = 20;
/** Preflight checks a green that has the pair's databases and schema unless asked for `prepare` (issue 19). */
export const PREFLIGHT_DEFAULT_PHASE = 'prepared';
// preflight from RDS's own descriptions (issue 15)
/** Green's capacity below this share of blue's is a blocker ("clearly undersized"); below 1, a warning. */
export const PREFLIGHT_UNDERSIZED_SHARE = 0.5;
/** AWS sizes an Aurora Capacity Unit at about 2 GiB of memory with matching CPU and network. */
export const GIB_PER_ACU = 2;
/**
 * Cluster parameters whose differing values make green behave otherwise than blue for
 * the same application: memory per query, connection limits, timeouts, planner costs,
 * session defaults.
 */
export const PREFLIGHT_BEHAVIOUR_PARAMETERS = [
  'work_mem',
  'maintenance_work_mem',
  'max_connections',
  'statement_timeout',
  'idle_in_transaction_session_timeout',
  'lock_timeout',
  'temp_file_limit',
  'default_transaction_isolation',
  'search_path',
  'timezone',
  'random_page_cost',
  'shared_preload_libraries',
] as const;
/** The schema restore (set-up and preflight's trial) reports progress about this many times. */
export const SCHEMA_RESTORE_PROGRESS_STEPS = 20;
/** Preflight's trial restore of blue's schema into a scratch database on green stops after this long (issue 18). */
export const DEFAULT_TRIAL_RESTORE_SECONDS = 300;
/** Scratch databases of trial restores are named `<prefix><pair>_<random>`, so a later start finds and drops leftovers. */
export const TRIAL_DATABASE_PREFIX = 'pgshift_trial_';
/** A trial restore finding shows the failing statement's first lines. */
export const PREFLIGHT_TRIAL_STATEMENT_LINES = 6;
/** pg_upgrade's FirstNormalObjectId: objects with smaller OIDs were made by initdb. */
export const PG_FIRST_USER_OID = 16384;

// cli (issue 5)
export const DEFAULT_CLI_URL = `http://${DEFAULT_LISTEN_HOST}:${DEFAULT_LISTEN_PORT}`;
/** A preflight of many databases takes a while; the CLI waits this long for any answer. */
export const CLI_REQUEST_TIMEOUT_MS = 120_000;

// shift controller, state store and API (issue 7)
export const CONTROLLER_TICK_MS = 1_000;
export const INTENT_POLL_MS = 100;
/** How often the controller describes a pair's clusters: status and version change rarely, and RDS limits Describe calls per account. */
export const CLUSTERS_CHECK_MS = 15_000;
/** Bookkeeping after traffic moved (a revert while the state store is down) retries from this pause... */
export const STORE_RETRY_MIN_MS = 200;
/** ...doubling up to this one, until the state store takes it. */
export const STORE_RETRY_MAX_MS = 5_000;
/** How long an API call waits for the loop to carry out its intent before answering 202. */
export const INTENT_WAIT_MS = 30_000;
export const LEASE_CONFIRM_TIMEOUT_MS = 2_000;
/** NOTIFY channel on which a stopping leader says it let go, so that the standby tries at once rather than at its next tick. */
export const LEASE_RELEASED_CHANNEL = 'pgshift_lease_released';
export const EVENTS_PAGE_DEFAULT = 50;
export const EVENTS_PAGE_MAX = 500;
export const MUTATION_RATE_LIMIT_PER_MINUTE = 60;
/** Dashboard sign-ins per client address and minute: enough for people, too few for guessing tokens. */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 10;
/** How long a dashboard session lasts: a working day, then sign in again. */
export const SESSION_TTL_SECONDS = 8 * 3600;
export const MUTATION_BODY_LIMIT_BYTES = 16 * 1024;
export const SSE_POLL_MS = 500;
export const SSE_KEEPALIVE_MS = 15_000;

// replication control and signals (issue 6)
/** The database every PostgreSQL and Aurora cluster has; where cluster-wide setup connects. */
export const MAINTENANCE_DATABASE = 'postgres';
/** Sessions pgshift keeps open per side, database and login for its recurring queries. */
export const REPLICATION_SESSIONS_PER_TARGET = 2;
/** An idle kept session closes after this; the next query opens a new one. */
export const REPLICATION_SESSION_IDLE_MS = 60_000;
export const HEARTBEAT_TOKEN_BYTES = 12;
/** Heartbeats remembered per database for lag in seconds (ten minutes at one per second). */
export const HEARTBEAT_HISTORY = 600;
/** Waiting for the subscriber to show a fence token (cutover step 3). */
export const FENCE_TIMEOUT_MS = 30_000;
/** Fence polling: apply takes milliseconds on a healthy pair (4-15 ms on the lab). */
export const FENCE_POLL_MS = 5;
/** Polling a slot's confirmed_flush_lsn, which the subscriber reports lazily. */
export const SLOT_POLL_MS = 50;
/** After DROP SUBSCRIPTION, how long the publisher's walsender may hold the slot. */
export const SLOT_RELEASE_WAIT_MS = 15_000;
/** Terminated sessions are gone within ~300 ms on the lab; the freeze waits this long at most. */
export const FREEZE_SESSION_WAIT_MS = 10_000;
export const FREEZE_SESSION_POLL_MS = 25;
/** application_name of the canary sessions; starts with `pgshift`, so draining spares them. */
export const PROBE_APPLICATION_NAME = 'pgshift-probe';
export const DEFAULT_PROBE_INTERVAL_MS = 1_000;
export const DEFAULT_PROBE_WINDOW_SECONDS = 10;
/**
 * A fresh connection per endpoint every this many probe rounds (1: every round), so a
 * side that refuses or hangs new connections is caught as soon as a dead one. Each costs
 * the server a backend and a SCRAM exchange (and TLS when configured): see bench/README.md.
 */
export const DEFAULT_PROBE_CONNECT_EVERY_ROUNDS = 1;
export const DEFAULT_APP_WINDOW_SECONDS = 30;
/** Consecutive failed measurements (no data) that count as a breach. */
export const DEFAULT_CONSECUTIVE_ERRORS = 5;
/** A measurement older than this many sampling intervals is stale: unknown, never healthy. */
export const SIGNAL_STALE_INTERVALS = 3;
/** A reading may take a sampling interval, and at least this long, before it counts as failed. */
export const SIGNAL_MEASURE_MIN_TIMEOUT_MS = 1_000;
/** Samples kept per signal for the API and the dashboard's charts (fifteen minutes at one per second). */
export const SIGNAL_HISTORY_SIZE = 900;
/** Pushes of application metrics kept per pair, newest first out when full. */
export const APP_METRICS_MAX_PUSHES = 10_000;

/** How often a long step's progress (the initial copy) is written into the journal, for other processes and restarts. */
export const PROGRESS_JOURNAL_MS = 5_000;

// preparing green (issue 19)
/** Reading the initial copy's progress: once a second is cheap (two catalog queries per database). */
export const PREPARE_COPY_POLL_MS = 1_000;
/** The copy rate is measured over the readings of this window. */
export const PREPARE_COPY_RATE_WINDOW_MS = 10_000;
/** The initial copy's progress is logged at most this often. */
export const PREPARE_COPY_LOG_EVERY_MS = 10_000;
/** verify: how long a slot may take to become active after its subscription is enabled. */
export const PREPARE_SLOT_ACTIVE_WAIT_MS = 15_000;

/** How often `pgshift prepare` asks how the preparation goes. */
export const CLI_PROGRESS_POLL_MS = 1_000;
/** Off a terminal, `pgshift prepare` prints a progress line at most this often. */
export const CLI_PROGRESS_LINE_MS = 10_000;
/** The lab prints the preparation's progress at most this often. */
export const LAB_PROGRESS_LINE_MS = 3_000;
/** A transition that failed is tried again after this, doubling with each failure in a row up to the max. */
export const TRANSITION_RETRY_MIN_MS = 1_000;
export const TRANSITION_RETRY_MAX_MS = 60_000;
/** Making a replication slot that waits this long for open transactions says which. */
export const SLOT_CREATE_REPORT_MS = 5_000;

// rehearsals (issue 17)
/** Staging cluster identifiers start with it; the optional IAM statement set (deploy `rehearsals: true`) is scoped to `cluster:pgshift-rehearsal-*`. */
export const REHEARSAL_CLUSTER_PREFIX = 'pgshift-rehearsal-';
/** Runs of each validation query per side; the median is compared. */
export const REHEARSAL_QUERY_RUNS = 5;
/** A validation query slower on green than blue's median x this + REHEARSAL_SLOWER_MARGIN_MS is a warning. */
export const REHEARSAL_SLOWER_FACTOR = 2;
/** Keeps sub-millisecond noise on a busy machine from counting as slower. */
export const REHEARSAL_SLOWER_MARGIN_MS = 2;
export const REHEARSAL_QUERY_TIMEOUT_MS = 30_000;
/** Polls of staging cluster creation and deletion. */
export const REHEARSAL_POLL_MIN_MS = 200;
export const REHEARSAL_POLL_MAX_MS = 10_000;
/** How long the clean-up waits for a staging cluster's snapshot still `creating` (a cutover cut short) before it reports it not deleted. */
export const REHEARSAL_SNAPSHOT_WAIT_MS = 30 * 60_000;
/** A running rehearsal's heartbeat in the state store; one not beaten for REHEARSAL_STALE_MS is taken as ended by a crash. */
export const REHEARSAL_HEARTBEAT_MS = 5_000;
export const REHEARSAL_STALE_MS = 30_000;
/** Beyond the bake time, how long a staging pair's guards may take to hold before the rehearsal gives up on a stage. */
export const REHEARSAL_GUARDS_WAIT_MS = 90_000;
/** The bake time of each read stage on the staging pair, unless the request names one. */
export const REHEARSAL_BAKE_SECONDS = 5;
/** The largest bake, write rate and query file a rehearsal request takes (the API's schema, the CLI's and the page's checks). */
export const REHEARSAL_MAX_BAKE_SECONDS = 3_600;
export const REHEARSAL_MAX_WRITE_RATE = 10_000;
export const REHEARSAL_MAX_QUERIES = 500;
/** Write transactions per second of a rehearsal's load during its cutover (the API's `writeRate`; 0: no load). */
export const REHEARSAL_WRITE_RATE = 10;
export const REHEARSAL_MIN_WRITE_RATE = 0.1;
/** How long a rehearsal waits beyond the freeze limit for its load's next acknowledged write, and how often it looks. */
export const REHEARSAL_LOAD_SETTLE_MS = 10_000;
export const REHEARSAL_LOAD_POLL_MS = 20;
/** Differences of the demo application's write ledger named in a rehearsal's finding (the report's writeLoad.ledger lists more). */
export const REHEARSAL_LEDGER_DIFFERENCES_SHOWN = 5;
/** The initial copy's slowest tables `pgshift rehearse` prints (the JSON report has every table). */
export const REHEARSAL_SLOWEST_TABLES_SHOWN = 5;
