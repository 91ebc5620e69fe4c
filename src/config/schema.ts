import Type from 'typebox';
import * as D from '../defaults.js';

/**
 * The configuration file, as a schema. Fields with a default are filled in before
 * validation (see load.ts), so the static types below have them as required.
 * Every object rejects unknown keys: a typo must fail loudly, not be ignored.
 */
const strict = { additionalProperties: false } as const;

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Name = Type.String({ minLength: 1 });
const Percent = Type.Integer({ minimum: 1, maximum: 100 });

export const LoginSchema = Type.Object(
  {
    user: Name,
    password: Type.String({ description: 'secret: give it as ${PGSHIFT_...}' }),
  },
  strict,
);
export type Login = Type.Static<typeof LoginSchema>;

export const SslModeSchema = Type.Union(
  [Type.Literal('disable'), Type.Literal('require'), Type.Literal('verify-full')],
  { default: 'disable' },
);
export type SslMode = Type.Static<typeof SslModeSchema>;

/**
 * Green made by pgshift through RDS (the `prepare` transition's first step): an Aurora
 * PostgreSQL cluster named by green's `rdsClusterId`, its master login green's
 * `adminLogin`, and one writer instance of `instanceClass`, or Serverless v2 (`db.serverless`)
 * within `serverless` ACUs: exactly one of the two.
 */
export const CreateGreenSchema = Type.Object(
  {
    engineVersion: Type.String({ pattern: '^\\d+(\\.\\d+)*$', description: 'Aurora PostgreSQL engine version, e.g. "14.12"; its major must be expectedMajor' }),
    dbClusterParameterGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    instanceClass: Type.Optional(Type.String({ pattern: '^db\\.[a-z0-9-]+(\\.[a-z0-9-]+)?$', description: 'e.g. db.r6g.large' })),
    serverless: Type.Optional(
      Type.Object(
        {
          minCapacity: Type.Number({ minimum: 0.5, maximum: 256, multipleOf: 0.5, description: 'ACUs, in half steps' }),
          maxCapacity: Type.Number({ minimum: 0.5, maximum: 256, multipleOf: 0.5, description: 'ACUs, in half steps' }),
        },
        strict,
      ),
    ),
    subnetGroup: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
    vpcSecurityGroupIds: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
    tags: Type.Optional(Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 256 }))),
  },
  strict,
);
export type CreateGreenConfig = Type.Static<typeof CreateGreenSchema>;

export const ClusterSchema = Type.Object(
  {
    rdsClusterId: Type.Optional(Name),
    host: Type.Optional(Name),
    port: Type.Optional(Port),
    readerHost: Type.Optional(Name),
    readerPort: Type.Optional(Port),
    subscriptionHost: Type.Optional(
      Type.String({
        minLength: 1,
        description: "the host the other cluster's subscription dials for this one (default: its writer endpoint as RDS reports it); the port stays the endpoint's",
      }),
    ),
    expectedMajor: Type.Integer({ minimum: 10, maximum: 99 }),
    ssl: SslModeSchema,
    login: LoginSchema,
    adminLogin: LoginSchema,
    /** Green only: pgshift creates this cluster through RDS when it does not exist. */
    create: Type.Optional(CreateGreenSchema),
  },
  strict,
);
export type ClusterConfig = Type.Static<typeof ClusterSchema>;

export const RecordSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 1024 }),
    ttl: Type.Integer({ minimum: 0, maximum: 86_400, default: D.DEFAULT_RECORD_TTL_SECONDS }),
  },
  strict,
);
export type RecordConfig = Type.Static<typeof RecordSchema>;

export const DnsSchema = Type.Object(
  {
    hostedZoneId: Type.String({ minLength: 1, maxLength: 32 }),
    reader: RecordSchema,
    writer: RecordSchema,
  },
  strict,
);
export type DnsConfig = Type.Static<typeof DnsSchema>;

const rate = (fallback: number) => Type.Number({ minimum: 0, maximum: 1, default: fallback });

/**
 * A relative limit: green is held against blue (the control) over the same window, as
 * Kayenta holds a canary against its baseline. Relative limits only tighten: green
 * breaches when over the absolute limit beside it, or worse than blue's figure of the
 * same sample round times `factor` plus the margin. Blue itself is held to the absolute
 * limit; when blue has no figure, green is too (and the reason says so).
 */
const factor = Type.Number({
  minimum: 1,
  maximum: 1000,
  default: D.DEFAULT_RELATIVE_FACTOR,
  description: 'green is over the relative limit above blue x factor + margin',
});
const RelativeP95Schema = Type.Object(
  {
    factor,
    marginMs: Type.Number({ minimum: 0, maximum: 600_000, default: D.DEFAULT_RELATIVE_P95_MARGIN_MS }),
  },
  strict,
);
const RelativeRateSchema = Type.Object(
  {
    factor,
    margin: Type.Number({ minimum: 0, maximum: 1, default: D.DEFAULT_RELATIVE_ERROR_RATE_MARGIN, description: 'a ratio, 0..1' }),
  },
  strict,
);

export const SignalsSchema = Type.Object(
  {
    sampleSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 3600, default: D.DEFAULT_SAMPLE_SECONDS }),
    consecutiveBreaches: Type.Integer({ minimum: 1, maximum: 1000, default: D.DEFAULT_CONSECUTIVE_BREACHES }),
    consecutiveErrors: Type.Integer({
      minimum: 1,
      maximum: 1000,
      default: D.DEFAULT_CONSECUTIVE_ERRORS,
      description: 'failed readings in a row that count as a breach (missing data is never healthy)',
    }),
    lag: Type.Object(
      {
        maxSeconds: Type.Number({ exclusiveMinimum: 0, default: D.DEFAULT_MAX_LAG_SECONDS }),
        maxBytes: Type.Integer({ minimum: 1, default: D.DEFAULT_MAX_LAG_BYTES }),
      },
      { ...strict, default: {} },
    ),
    probe: Type.Object(
      {
        timeoutMs: Type.Integer({ minimum: 1, maximum: 60_000, default: D.DEFAULT_PROBE_TIMEOUT_MS }),
        maxErrorRate: rate(D.DEFAULT_MAX_PROBE_ERROR_RATE),
        maxP95Ms: Type.Number({ exclusiveMinimum: 0, default: D.DEFAULT_MAX_PROBE_P95_MS }),
        relativeP95: Type.Optional(RelativeP95Schema),
        relativeErrorRate: Type.Optional(RelativeRateSchema),
        intervalMs: Type.Integer({ minimum: 50, maximum: 600_000, default: D.DEFAULT_PROBE_INTERVAL_MS }),
        connectEveryRounds: Type.Integer({
          minimum: 1,
          maximum: 3600,
          default: D.DEFAULT_PROBE_CONNECT_EVERY_ROUNDS,
          description: 'every this many probe rounds, each endpoint also gets a fresh connection (authentication, TLS, a query, close)',
        }),
        windowSeconds: Type.Number({
          exclusiveMinimum: 0,
          maximum: 3600,
          default: D.DEFAULT_PROBE_WINDOW_SECONDS,
          description: 'error rate and p95 are computed over the probes of this many seconds',
        }),
      },
      { ...strict, default: {} },
    ),
    dbErrors: Type.Object(
      {
        maxErrorRate: rate(D.DEFAULT_MAX_DB_ERROR_RATE),
        relativeErrorRate: Type.Optional(RelativeRateSchema),
      },
      { ...strict, default: {} },
    ),
    schemaDrift: Type.Object(
      {
        sampleSeconds: Type.Number({
          exclusiveMinimum: 0,
          maximum: 3600,
          default: D.DEFAULT_SCHEMA_DRIFT_SAMPLE_SECONDS,
          description: "both sides' schemas are read and compared this often (a catalog query per database and side); any difference blocks advancing and the cutover",
        }),
      },
      { ...strict, default: {} },
    ),
    app: Type.Object(
      {
        enabled: Type.Boolean({
          default: false,
          description: 'the applications push their error and request counts; then a pair without recent pushes may not advance',
        }),
        maxErrorRate: rate(D.DEFAULT_MAX_APP_ERROR_RATE),
        windowSeconds: Type.Number({
          exclusiveMinimum: 0,
          maximum: 3600,
          default: D.DEFAULT_APP_WINDOW_SECONDS,
          description: 'pushed counts are summed over this many seconds',
        }),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);
export type SignalsConfig = Type.Static<typeof SignalsSchema>;

export const ReplicationSchema = Type.Object(
  {
    publication: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z_][a-z0-9_]*$', default: D.DEFAULT_PUBLICATION }),
    subscription: Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z_][a-z0-9_]*$', default: D.DEFAULT_SUBSCRIPTION }),
  },
  { ...strict, default: {} },
);
export type ReplicationConfig = Type.Static<typeof ReplicationSchema>;

/**
 * The write cutover (either direction, `from` -> `to`): how long writes may stay frozen
 * while `to` catches up, how long the comparison of both sides may take, how sequences
 * are moved, and what must be true before it starts and before the way back closes.
 */
export const CutoverSchema = Type.Object(
  {
    maxFreezeSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 300, default: D.DEFAULT_CUTOVER_MAX_FREEZE_SECONDS, description: 'writes frozen on `from` until `to` shows the fence: past this, unfreeze and abort' }),
    validateBudgetMs: Type.Integer({ minimum: 1, maximum: 600_000, default: D.DEFAULT_CUTOVER_VALIDATE_BUDGET_MS, description: 'the row comparison of both sides must end within this; past it, abort' }),
    exactCountMaxRows: Type.Integer({ minimum: 0, default: D.DEFAULT_CUTOVER_EXACT_COUNT_MAX_ROWS, description: 'tables estimated at up to this many rows are counted exactly; larger ones compare their largest key' }),
    sequenceMargin: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0, description: 'increments added to every sequence copied to `to`' }),
    maxLagSeconds: Type.Number({ minimum: 0, default: D.DEFAULT_CUTOVER_MAX_LAG_SECONDS, description: 'replication lag above this refuses the cutover before the freeze' }),
    snapshotMaxAgeSeconds: Type.Integer({ minimum: 0, default: D.DEFAULT_CUTOVER_SNAPSHOT_MAX_AGE_SECONDS, description: "a pgshift snapshot of `from` younger than this is used; otherwise one is taken first" }),
    rollbackWindowSeconds: Type.Integer({ minimum: 0, default: D.DEFAULT_CUTOVER_ROLLBACK_WINDOW_SECONDS, description: 'finalize (closing the way back) is refused until the pair has been at green this long, unless forced' }),
  },
  { ...strict, default: {} },
);
export type CutoverConfig = Type.Static<typeof CutoverSchema>;

/** What preflight does beyond reading catalogs: the trial restore of blue's schema into a scratch database on green. */
export const PairPreflightSchema = Type.Object(
  {
    trialRestoreSeconds: Type.Integer({
      minimum: 1,
      maximum: 3600,
      default: D.DEFAULT_TRIAL_RESTORE_SECONDS,
      description: "the trial restore stops after this long; what it found until then is reported, with a warning that it did not finish",
    }),
  },
  { ...strict, default: {} },
);

/** A pair's id: in `pairs[].id`, and the same rule in the API's paths and the CLI's --pair. */
export const PairIdSchema = Type.String({ minLength: 1, maxLength: 63, pattern: '^[a-z0-9][a-z0-9-]*$' });

export const PairSchema = Type.Object(
  {
    id: PairIdSchema,
    databases: Type.Array(Name, { minItems: 1 }),
    blue: ClusterSchema,
    green: ClusterSchema,
    appRoles: Type.Optional(Type.Array(Name, { minItems: 1 })),
    dns: DnsSchema,
    steps: Type.Array(Percent, { minItems: 1, default: [...D.DEFAULT_READ_STEPS] }),
    bakeSeconds: Type.Number({ minimum: 0, default: D.DEFAULT_BAKE_SECONDS }),
    autoAdvance: Type.Boolean({ default: false }),
    signals: SignalsSchema,
    replication: ReplicationSchema,
    cutover: CutoverSchema,
    preflight: PairPreflightSchema,
    ddl: Type.Union([Type.Literal('watch'), Type.Literal('block')], {
      default: D.DEFAULT_DDL_MODE,
      description: "watch: schema changes during a shift are reported as drift; block: while a shift is under way (after baseline, before finalized) an event trigger on the writing side also refuses the application roles' DDL (needs an admin login that may create event triggers)",
    }),
    snapshotDir: Type.Optional(Name),
  },
  strict,
);
export type PairConfig = Type.Static<typeof PairSchema>;

/** How pgshift spends Route 53 API calls; one budget per process, shared by every pair. */
export const Route53BudgetSchema = Type.Object(
  {
    /** Refill rate of pgshift's token bucket; Route 53 allows the whole account 10/s. */
    requestsPerSecond: Type.Number({ exclusiveMinimum: 0, maximum: 10, default: D.ROUTE53_REQUESTS_PER_SECOND }),
    /** Tokens the bucket holds when idle; Route 53's account burst is 50. */
    burst: Type.Integer({ minimum: 1, maximum: 50, default: D.ROUTE53_BURST }),
    /** How old the weights the controller reads may be: each hosted zone is listed about once per this. */
    observeMs: Type.Integer({ minimum: 100, default: D.ROUTE53_OBSERVE_MS }),
    /** Shortest time between two listings of one zone, however many fresh reads are asked for. */
    minListIntervalMs: Type.Integer({ minimum: 0, default: D.ROUTE53_MIN_LIST_INTERVAL_MS }),
  },
  { ...strict, default: {} },
);

export const AwsSchema = Type.Object(
  {
    region: Type.String({ minLength: 1, default: 'us-east-1' }),
    route53Endpoint: Type.Optional(Type.String({ minLength: 1 })),
    rdsEndpoint: Type.Optional(Type.String({ minLength: 1 })),
    accessKeyId: Type.Optional(Name),
    secretAccessKey: Type.Optional(Name),
    maxAttempts: Type.Integer({ minimum: 1, maximum: 20, default: D.ROUTE53_MAX_ATTEMPTS }),
    /** Optional in the type so that code building an AwsConfig by hand need not give it; the loader fills the defaults in. */
    route53: Type.Optional(Route53BudgetSchema),
  },
  { ...strict, default: {} },
);
export type AwsConfig = Type.Static<typeof AwsSchema>;

export const RoleSchema = Type.Union([Type.Literal('viewer'), Type.Literal('operator')]);
export type Role = Type.Static<typeof RoleSchema>;

export const TokenSchema = Type.Object(
  {
    name: Name,
    role: RoleSchema,
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$', description: 'hex SHA-256 of the bearer token' }),
  },
  strict,
);
export type TokenConfig = Type.Static<typeof TokenSchema>;

export const ServiceSchema = Type.Object(
  {
    host: Type.String({ minLength: 1, default: D.DEFAULT_LISTEN_HOST }),
    port: Type.Integer({ minimum: 0, maximum: 65535, default: D.DEFAULT_LISTEN_PORT }),
    logLevel: Type.Union(
      [
        Type.Literal('fatal'),
        Type.Literal('error'),
        Type.Literal('warn'),
        Type.Literal('info'),
        Type.Literal('debug'),
        Type.Literal('trace'),
        Type.Literal('silent'),
      ],
      { default: D.DEFAULT_LOG_LEVEL },
    ),
    trustProxy: Type.Boolean({
      default: false,
      description: 'behind a load balancer: take the client address and protocol from X-Forwarded-*, so the session cookie is Secure when the balancer speaks TLS',
    }),
    /**
     * The container's stop timeout (ECS task definition `stopTimeout`): on SIGTERM the
     * step in flight ends, the lease goes to the standby and every connection closes
     * within it.
     */
    stopTimeoutSeconds: Type.Integer({ minimum: 2, maximum: 120, default: D.DEFAULT_STOP_TIMEOUT_SECONDS }),
  },
  { ...strict, default: {} },
);
export type ServiceConfig = Type.Static<typeof ServiceSchema>;

export const LabSchema = Type.Object(
  {
    dir: Type.String({ minLength: 1, default: D.LAB_DIR }),
    // Its keys are the lab's business: src/local/workload/config.ts checks every one
    // (errors name lab.workload.<key>) before the lab starts. The production config
    // cannot import the lab's schema, and rejects a lab section anyway.
    workload: Type.Optional(Type.Unknown({ description: "the lab's demo application (src/local/workload): enabled, rate, readShare, ..." })),
  },
  { ...strict, default: {} },
);
export type LabConfig = Type.Static<typeof LabSchema>;

export const ConfigSchema = Type.Object(
  {
    lab: Type.Optional(LabSchema),
    service: ServiceSchema,
    state: Type.Object({ url: Type.String({ minLength: 1 }) }, strict),
    aws: AwsSchema,
    auth: Type.Object(
      {
        tokens: Type.Array(TokenSchema, { default: [] }),
        metricsRequireToken: Type.Boolean({ default: false }),
        sessionTtlSeconds: Type.Integer({
          minimum: 60,
          maximum: 7 * 24 * 3600,
          default: D.SESSION_TTL_SECONDS,
          description: 'how long a dashboard sign-in lasts',
        }),
      },
      { ...strict, default: {} },
    ),
    /**
     * Addresses to dial instead of a cluster endpoint's host name, by exact name or
     * `*.suffix`: for SSH tunnels and bastions, and for the lab, whose stand-in RDS
     * reports realistic endpoint names that all live on loopback.
     */
    hostOverrides: Type.Record(Type.String({ minLength: 1 }), Type.String({ minLength: 1 }), { default: {} }),
    pairs: Type.Array(PairSchema, { minItems: 1 }),
  },
  strict,
);
export type Config = Type.Static<typeof ConfigSchema>;

/** Keys whose values are secrets: non-enumerable after load, censored in logs. */
export const SECRET_KEYS = new Set(['password', 'secretAccessKey']);
