import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  type DBCluster,
  type DBInstance,
  type RDSClient,
  type Tag,
} from '@aws-sdk/client-rds';
import { systemClock, type Clock } from '../clock.js';
import type { CreateGreenConfig, Login } from '../config/schema.js';
import * as D from '../defaults.js';
import { describeError, isPgshiftError, PgshiftError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { PreparationStep, StepDetail } from '../shift/ports.js';
import { parseMajor } from './catalog.js';
import { wrapRdsError } from './rds-errors.js';

export const AURORA_POSTGRESQL = 'aurora-postgresql';
/** The tag that marks a cluster (and its writer) as made by pgshift for one pair; only such a cluster is ever deleted. */
export const PAIR_TAG = 'pgshift:pair';
export const ROLE_TAG = 'pgshift:role';

/** Cluster states after which waiting cannot end in `available` (the SDK waiter's failure acceptors, and a few more). */
const FAILED_STATES = new Set(['failed', 'deleted', 'deleting', 'incompatible-restore', 'incompatible-parameters', 'inaccessible-encryption-credentials', 'incompatible-network']);

/** What is known of green while it is created or removed, for logs and the preparation's progress. */
export interface GreenClusterStatus {
  clusterId: string;
  /** RDS's cluster status, or `absent`. */
  cluster: string;
  /** The writer instance's status; null when it has none (yet). */
  instance: string | null;
  at: number;
}

export interface GreenClusterTarget {
  client: RDSClient;
  pairId: string;
  /** Green's RDS cluster identifier. */
  clusterId: string;
  clock?: Clock;
  log?: Logger;
  /** Ends waiting (not what RDS already does). */
  signal?: AbortSignal;
  /** Called after every poll. */
  onStatus?: (status: GreenClusterStatus) => void;
  /** Pause between polls: starts at min, grows by half each poll up to max. */
  pollMinMs?: number;
  pollMaxMs?: number;
  timeoutMs?: number;
}

export interface EnsureGreenOptions extends GreenClusterTarget {
  /** The pair config's `green.create`. */
  spec: CreateGreenConfig;
  /** Green's `adminLogin`: the new cluster's master user and password. */
  adminLogin: Login;
  /** Awaited just before CreateDBCluster goes out (a step journals there that it is creating). */
  beforeCreate?: () => Promise<void>;
  /** The `pgshift:role` tag of what is created; default `green` (a rehearsal's staging clusters say which side they stand for). */
  role?: string;
}

export interface GreenClusterResult {
  /** This call sent CreateDBCluster; false when the cluster existed and was adopted. */
  created: boolean;
  /** This call sent CreateDBInstance for the writer. */
  instanceCreated: boolean;
  clusterId: string;
  instanceId: string;
  engineVersion: string;
  endpoint: string | null;
  port: number | null;
  /** The cluster carries this pair's `pgshift:pair` tag (pgshift made it). */
  ours: boolean;
}

/** The writer instance pgshift creates: `<clusterId>-writer`, shortened to stay a valid identifier. */
export function greenWriterId(clusterId: string): string {
  const room = 63 - D.GREEN_WRITER_SUFFIX.length;
  return `${clusterId.slice(0, room).replace(/-+$/, '')}${D.GREEN_WRITER_SUFFIX}`;
}

/** The tags pgshift puts on green and its writer: the pair's marks, then the configured ones. */
export function greenTags(pairId: string, spec: CreateGreenConfig, role = 'green'): Tag[] {
  return [
    { Key: PAIR_TAG, Value: pairId },
    { Key: ROLE_TAG, Value: role },
    ...Object.entries(spec.tags ?? {}).map(([Key, Value]) => ({ Key, Value })),
  ];
}

/**
 * Makes sure green exists and is available: an existing cluster is adopted (its engine
 * major checked against the spec), otherwise CreateDBCluster (Aurora PostgreSQL, the
 * spec's version, parameter group and network, Serverless v2 scaling when asked, the
 * master login, tags) and CreateDBInstance for its writer; then waits until the
 * cluster and the writer are `available`. Idempotent: a repeated call adopts what an
 * earlier one made. Throws a coded PgshiftError; errors no retry can cure (wrong major,
 * a refused parameter) have `details.final` true. The master password never appears in
 * an error or a log line.
 */
export async function ensureGreenCluster(options: EnsureGreenOptions): Promise<GreenClusterResult> {
  const { client, clusterId, spec } = options;
  const log = (options.log ?? silentLogger()).child({ cluster: clusterId });
  const secret = options.adminLogin.password;
  const wantedMajor = parseMajor(spec.engineVersion);
  const guard = <T>(doing: string, call: () => Promise<T>) => callRds(doing, call, secret);

  let cluster = await describeCluster(client, clusterId, secret);
  let created = false;
  if (cluster) {
    checkAdoptable(cluster, clusterId, wantedMajor);
    log.info({ status: cluster.Status, engineVersion: cluster.EngineVersion }, 'green cluster exists; adopting it');
  } else {
    await options.beforeCreate?.();
    try {
      const out = await guard(`creating green cluster ${clusterId}`, () =>
        client.send(
          new CreateDBClusterCommand({
            DBClusterIdentifier: clusterId,
            Engine: AURORA_POSTGRESQL,
            EngineVersion: spec.engineVersion,
            MasterUsername: options.adminLogin.user,
            MasterUserPassword: secret,
            ...(spec.dbClusterParameterGroup === undefined ? {} : { DBClusterParameterGroupName: spec.dbClusterParameterGroup }),
            ...(spec.subnetGroup === undefined ? {} : { DBSubnetGroupName: spec.subnetGroup }),
            ...(spec.vpcSecurityGroupIds === undefined ? {} : { VpcSecurityGroupIds: spec.vpcSecurityGroupIds }),
            ...(spec.serverless === undefined
              ? {}
              : { ServerlessV2ScalingConfiguration: { MinCapacity: spec.serverless.minCapacity, MaxCapacity: spec.serverless.maxCapacity } }),
            CopyTagsToSnapshot: true,
            Tags: greenTags(options.pairId, spec, options.role),
          }),
        ),
      );
      cluster = out.DBCluster ?? null;
      created = true;
      log.info({ engineVersion: spec.engineVersion, status: cluster?.Status }, 'green cluster creation started');
    } catch (err) {
      // Another process (or a retried request) made it meanwhile: adopt it.
      if (!isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_EXISTS')) throw finalIfInvalid(err);
      cluster = await describeCluster(client, clusterId, secret);
      if (!cluster) throw err;
      checkAdoptable(cluster, clusterId, wantedMajor);
    }
  }

  const instanceId = greenWriterId(clusterId);
  let instances = await listInstances(client, clusterId, secret);
  let instanceCreated = false;
  if (instances.length === 0) {
    try {
      await guard(`creating green writer instance ${instanceId}`, () =>
        client.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: instanceId,
            DBClusterIdentifier: clusterId,
            Engine: AURORA_POSTGRESQL,
            DBInstanceClass: spec.serverless === undefined ? spec.instanceClass : 'db.serverless',
            Tags: greenTags(options.pairId, spec, options.role),
          }),
        ),
      );
      instanceCreated = true;
      log.info({ instance: instanceId }, 'green writer instance creation started');
    } catch (err) {
      if (!isPgshiftError(err, 'PGSHIFT_ERR_INSTANCE_EXISTS')) throw finalIfInvalid(err);
    }
    instances = await listInstances(client, clusterId, secret);
  }

  // Wait until the cluster and its writer are available.
  const final = await poll(options, `green cluster ${clusterId} to be available`, async () => {
    const now = await describeCluster(client, clusterId, secret);
    if (!now) throw new PgshiftError('PGSHIFT_ERR_GREEN_GONE', `green cluster ${clusterId} disappeared while it was being created`, { status: 502 });
    const members = await listInstances(client, clusterId, secret);
    const writer = pickWriter(now, members);
    const status = { cluster: now.Status ?? 'unknown', instance: writer?.DBInstanceStatus ?? null };
    if (FAILED_STATES.has(status.cluster)) {
      throw new PgshiftError('PGSHIFT_ERR_GREEN_FAILED', `green cluster ${clusterId} is ${status.cluster}; it will not become available`, {
        status: 502,
        details: { final: true, status: status.cluster },
      });
    }
    const done = status.cluster === 'available' && status.instance === 'available';
    return { status, value: done ? { cluster: now, writer: writer! } : undefined };
  });

  const ours = tagValue(final.cluster.TagList, PAIR_TAG) === options.pairId;
  log.info({ created, instanceCreated, engineVersion: final.cluster.EngineVersion, ours }, 'green cluster available');
  return {
    created,
    instanceCreated,
    clusterId,
    instanceId: final.writer.DBInstanceIdentifier ?? instanceId,
    engineVersion: final.cluster.EngineVersion ?? spec.engineVersion,
    endpoint: final.cluster.Endpoint ?? null,
    port: final.cluster.Port ?? null,
    ours,
  };
}

/**
 * Deletes green (its instances, then the cluster, without a final snapshot) and waits
 * until RDS no longer knows it, but ONLY when the cluster carries this pair's
 * `pgshift:pair` tag: a cluster pgshift did not create is never deleted
 * (PGSHIFT_ERR_GREEN_NOT_OURS, final). Idempotent: an absent cluster is `removed: false`.
 */
export async function removeGreenCluster(options: GreenClusterTarget): Promise<{ removed: boolean }> {
  const { client, clusterId, pairId } = options;
  const log = (options.log ?? silentLogger()).child({ cluster: clusterId });
  const first = await describeCluster(client, clusterId);
  if (!first) return { removed: false };
  const pairTag = tagValue(await clusterTags(client, first), PAIR_TAG);
  if (pairTag !== pairId) {
    throw new PgshiftError(
      'PGSHIFT_ERR_GREEN_NOT_OURS',
      `cluster ${clusterId} does not carry the tag ${PAIR_TAG}=${pairId}: pgshift did not create it and will not delete it`,
      { status: 409, details: { final: true, tag: pairTag ?? null } },
    );
  }
  log.warn({ status: first.Status }, 'deleting green cluster made by pgshift');
  const asked = new Set<string>();
  let clusterAsked = false;
  await poll({ ...options, timeoutMs: options.timeoutMs ?? D.GREEN_DELETE_TIMEOUT_MS }, `green cluster ${clusterId} to be deleted`, async () => {
    const cluster = await describeCluster(client, clusterId);
    if (!cluster) return { status: { cluster: 'absent', instance: null }, value: true };
    const members = await listInstances(client, clusterId);
    for (const instance of members) {
      const id = instance.DBInstanceIdentifier ?? '';
      if (instance.DBInstanceStatus === 'deleting' || asked.has(id)) continue;
      try {
        await callRds(`deleting instance ${id} of green cluster ${clusterId}`, () => client.send(new DeleteDBInstanceCommand({ DBInstanceIdentifier: id, SkipFinalSnapshot: true })));
        asked.add(id);
        log.info({ instance: id }, 'green instance deletion started');
      } catch (err) {
        // Not deletable yet (still creating), or gone already: the next poll sees.
        if (!isPgshiftError(err, 'PGSHIFT_ERR_INSTANCE_UNAVAILABLE') && !isPgshiftError(err, 'PGSHIFT_ERR_INSTANCE_NOT_FOUND')) throw err;
      }
    }
    if (members.length === 0 && cluster.Status !== 'deleting' && !clusterAsked) {
      try {
        await callRds(`deleting green cluster ${clusterId}`, () => client.send(new DeleteDBClusterCommand({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true })));
        clusterAsked = true;
        log.info('green cluster deletion started');
      } catch (err) {
        if (isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_NOT_FOUND')) return { status: { cluster: 'absent', instance: null }, value: true };
        if (!isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_UNAVAILABLE')) throw err;
      }
    }
    const writer = pickWriter(cluster, members);
    return { status: { cluster: cluster.Status ?? 'unknown', instance: writer?.DBInstanceStatus ?? null }, value: undefined };
  });
  log.warn('green cluster deleted');
  return { removed: true };
}

export interface CreateGreenStepOptions {
  pairId: string;
  /** Green's `rdsClusterId`. */
  clusterId: string;
  /** Green's `create` config. */
  spec: CreateGreenConfig;
  /** Green's `adminLogin`: the master user. */
  adminLogin: Login;
  client: RDSClient;
  log?: Logger;
  clock?: Clock;
  pollMinMs?: number;
  pollMaxMs?: number;
  timeoutMs?: number;
}

/**
 * The `create-green` preparation step. run: notes `{ creating: clusterId }` before
 * CreateDBCluster goes out, then creates or adopts green and waits until available;
 * returns `{ created, clusterId, instanceId, engineVersion, endpoint, port }` where
 * `created` is true when this step (in this run or an interrupted earlier one) made
 * the cluster. undo: deletes green only when the detail says this step created (or was
 * creating) it, and only when it carries this pair's tag.
 */
export function createGreenStep(options: CreateGreenStepOptions): PreparationStep {
  const log = (options.log ?? silentLogger()).child({ step: 'create-green', pair: options.pairId });
  const target = (signal: AbortSignal): GreenClusterTarget => ({
    client: options.client,
    pairId: options.pairId,
    clusterId: options.clusterId,
    log,
    signal,
    onStatus: (s) => log.debug({ cluster: s.cluster, instance: s.instance }, 'green status'),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.pollMinMs === undefined ? {} : { pollMinMs: options.pollMinMs }),
    ...(options.pollMaxMs === undefined ? {} : { pollMaxMs: options.pollMaxMs }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  return {
    name: 'create-green',
    async run(ctx): Promise<StepDetail> {
      const result = await ensureGreenCluster({
        ...target(ctx.signal),
        spec: options.spec,
        adminLogin: options.adminLogin,
        beforeCreate: () => ctx.note({ creating: options.clusterId }),
      });
      const created = result.created || ctx.detail.creating === options.clusterId || ctx.detail.created === true;
      return {
        created,
        clusterId: result.clusterId,
        instanceId: result.instanceId,
        engineVersion: result.engineVersion,
        endpoint: result.endpoint,
        port: result.port,
      };
    },
    async undo(detail, signal): Promise<void> {
      if (detail.created !== true && detail.creating !== options.clusterId) {
        log.info({ cluster: options.clusterId }, 'green was not created by this step; nothing to undo');
        return;
      }
      try {
        await removeGreenCluster(target(signal));
      } catch (err) {
        // Made by someone else after all (a race on the name), or its tag was removed:
        // leaving it is the safe side.
        if (!isPgshiftError(err, 'PGSHIFT_ERR_GREEN_NOT_OURS')) throw err;
        log.warn({ cluster: options.clusterId, err: describeError(err) }, 'green is not tagged as this pair\'s; left in place');
      }
    },
  };
}

async function callRds<T>(doing: string, call: () => Promise<T>, secret?: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw scrub(wrapRdsError(err, doing), secret);
  }
}

/** A password echoed by anything on the way (it should not be) is cut out of the message. */
function scrub(err: PgshiftError, secret: string | undefined): PgshiftError {
  if (!secret || !err.message.includes(secret)) return err;
  return new PgshiftError(err.code, err.message.split(secret).join('***'), {
    status: err.status,
    ...(err.details === undefined ? {} : { details: err.details }),
  });
}

/** A request RDS refused as invalid will be refused again: the preparation must give up. */
function finalIfInvalid(err: unknown): unknown {
  if (!(err instanceof PgshiftError)) return err;
  if (err.code !== 'PGSHIFT_ERR_RDS_INVALID_PARAMETER' && err.code !== 'PGSHIFT_ERR_RDS_PARAMETER_GROUP_NOT_FOUND') return err;
  const details = typeof err.details === 'object' && err.details !== null ? err.details : {};
  return new PgshiftError(err.code, err.message, { status: err.status, details: { ...details, final: true }, cause: err.cause });
}

async function describeCluster(client: RDSClient, clusterId: string, secret?: string): Promise<DBCluster | null> {
  try {
    const out = await callRds(`describing green cluster ${clusterId}`, () => client.send(new DescribeDBClustersCommand({ DBClusterIdentifier: clusterId })), secret);
    return out.DBClusters?.[0] ?? null;
  } catch (err) {
    if (isPgshiftError(err, 'PGSHIFT_ERR_CLUSTER_NOT_FOUND')) return null;
    throw err;
  }
}

async function listInstances(client: RDSClient, clusterId: string, secret?: string): Promise<DBInstance[]> {
  const instances: DBInstance[] = [];
  let marker: string | undefined;
  do {
    const out = await callRds(
      `listing instances of green cluster ${clusterId}`,
      () => client.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-cluster-id', Values: [clusterId] }], ...(marker ? { Marker: marker } : {}) })),
      secret,
    );
    instances.push(...(out.DBInstances ?? []));
    marker = out.Marker;
  } while (marker);
  return instances;
}

async function clusterTags(client: RDSClient, cluster: DBCluster): Promise<Tag[]> {
  if (cluster.TagList !== undefined || !cluster.DBClusterArn) return cluster.TagList ?? [];
  const arn = cluster.DBClusterArn;
  const out = await callRds(`reading tags of ${arn}`, () => client.send(new ListTagsForResourceCommand({ ResourceName: arn })));
  return out.TagList ?? [];
}

/** The value of tag `key`, if the resource carries it. */
export function tagValue(tags: Tag[] | undefined, key: string): string | undefined {
  return tags?.find((t) => t.Key === key)?.Value;
}

/** The cluster's writer member, else the first instance. */
function pickWriter(cluster: DBCluster, instances: DBInstance[]): DBInstance | undefined {
  const writerId = cluster.DBClusterMembers?.find((m) => m.IsClusterWriter)?.DBInstanceIdentifier;
  return instances.find((i) => i.DBInstanceIdentifier === writerId) ?? instances[0];
}

function checkAdoptable(cluster: DBCluster, clusterId: string, wantedMajor: number | null): void {
  if (cluster.Engine !== undefined && cluster.Engine !== AURORA_POSTGRESQL) {
    throw new PgshiftError('PGSHIFT_ERR_GREEN_ENGINE', `cluster ${clusterId} exists but runs ${cluster.Engine}, not ${AURORA_POSTGRESQL}`, {
      status: 409,
      details: { final: true, engine: cluster.Engine },
    });
  }
  const major = cluster.EngineVersion ? parseMajor(cluster.EngineVersion) : null;
  if (major !== wantedMajor) {
    throw new PgshiftError(
      'PGSHIFT_ERR_GREEN_MAJOR',
      `cluster ${clusterId} exists with engine version ${cluster.EngineVersion ?? 'unknown'}, but green must be major ${wantedMajor}`,
      { status: 409, details: { final: true, engineVersion: cluster.EngineVersion ?? null } },
    );
  }
  if (cluster.Status === 'deleting') {
    throw new PgshiftError('PGSHIFT_ERR_GREEN_DELETING', `cluster ${clusterId} is being deleted; try again once it is gone`, { status: 409 });
  }
}

/**
 * Polls with growing pauses until `check` gives a value, reporting each status;
 * throws PGSHIFT_ERR_GREEN_TIMEOUT after the timeout and PGSHIFT_ERR_GREEN_ABORTED on abort.
 */
async function poll<T>(
  options: GreenClusterTarget,
  what: string,
  check: () => Promise<{ status: { cluster: string; instance: string | null }; value: T | undefined }>,
): Promise<T> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + (options.timeoutMs ?? D.GREEN_CREATE_TIMEOUT_MS);
  const max = options.pollMaxMs ?? D.GREEN_CREATE_POLL_MAX_MS;
  let pause = options.pollMinMs ?? D.GREEN_CREATE_POLL_MIN_MS;
  for (;;) {
    if (options.signal?.aborted) throw aborted(what, options.signal.reason);
    const { status, value } = await check();
    options.onStatus?.({ clusterId: options.clusterId, ...status, at: clock.now() });
    if (value !== undefined) return value;
    if (clock.now() >= deadline) {
      throw new PgshiftError('PGSHIFT_ERR_GREEN_TIMEOUT', `gave up waiting for ${what} (cluster ${status.cluster}, writer ${status.instance ?? 'none'})`, {
        status: 504,
        details: status,
      });
    }
    try {
      await clock.sleep(Math.min(pause, Math.max(0, deadline - clock.now())), options.signal);
    } catch (err) {
      throw aborted(what, err);
    }
    pause = Math.min(max, Math.round(pause * 1.5));
  }
}

function aborted(what: string, cause: unknown): PgshiftError {
  return new PgshiftError('PGSHIFT_ERR_GREEN_ABORTED', `stopped waiting for ${what}; RDS carries on with what it was asked`, { status: 409, cause });
}
