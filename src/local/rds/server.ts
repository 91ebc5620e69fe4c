import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { resolve } from 'node:path';
import { systemClock, type Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { describeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { LAB_ACCOUNT, LAB_REGION } from '../lab-endpoints.js';
import { ACTIONS } from './actions.js';
import { RdsApiError } from './errors.js';
import { RdsFaults } from './faults.js';
import type { LabClusterSource, LabServerFactory } from './lab-view.js';
import { readQueryParams, readString } from './query.js';
import { RdsState, type RdsLabClusterSettings } from './state.js';
import { renderError, renderResult } from './xml.js';
import { BodyTooLarge, readBody } from '../http-body.js';

export interface RdsStandInOptions {
  /** Folder for the stand-in's state and snapshots (inside the lab folder). */
  dir: string;
  source: LabClusterSource;
  /** Starts and removes the servers of clusters created through CreateDBCluster; without it, creating is refused. */
  servers?: LabServerFactory;
  log: Logger;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  clock?: Clock;
  region?: string;
  account?: string;
}

export interface RdsLab {
  configureCluster(id: string, settings: RdsLabClusterSettings): Promise<void>;
  /** Sets (undefined: resets) a parameter of the cluster's DB cluster parameter group; static ones leave its instances pending-reboot unless `reboot`. */
  setClusterParameter(id: string, name: string, value: string | undefined, options?: { reboot?: boolean }): Promise<void>;
}

export interface RdsStandIn {
  /** The endpoint URL to give the SDK (`endpoint`) or the CLI (`--endpoint-url`). */
  readonly url: string;
  readonly port: number;
  readonly faults: RdsFaults;
  /** Lab settings: what RDS reports of a cluster beyond the real server (Serverless v2, instance class, parameter groups). */
  readonly lab: RdsLab;
  /** Stops listening, ends running snapshot dumps (they become `failed`), stops the created clusters' servers (a restart brings them back). */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * One stand-in per folder in a process: a lab started again over the same folder (it
 * adopts its running servers) replaces the stand-in instead of leaving a second one
 * writing the same snapshots.
 */
const byFolder = new Map<string, RdsStandIn>();

/**
 * The lab's Amazon RDS: the AWS Query protocol over HTTP on loopback, answering
 * DescribeDBClusters, CreateDBClusterSnapshot, DescribeDBClusterSnapshots and
 * DeleteDBClusterSnapshot from the lab's real servers, and CreateDBCluster / CreateDBInstance / DeleteDBInstance /
 * DeleteDBCluster / DescribeDBInstances / AddTagsToResource / ListTagsForResource for
 * clusters it creates (each a new real server from `servers`), and the DB cluster
 * parameter groups (DescribeDBClusterParameters, ModifyDBClusterParameterGroup,
 * RebootDBInstance): RDS's default groups, and a custom one per lab cluster with
 * logical replication on, as the lab's servers run. Signatures are not
 * checked; any credentials will do.
 */
export async function startRdsStandIn(options: RdsStandInOptions): Promise<RdsStandIn> {
  const log = options.log.child({ component: 'rds-stand-in' });
  const dir = resolve(options.dir);
  await byFolder.get(dir)?.close();
  const state = await RdsState.open({
    dir,
    source: options.source,
    clock: options.clock ?? systemClock,
    log,
    region: options.region ?? LAB_REGION,
    account: options.account ?? LAB_ACCOUNT,
    ...(options.servers ? { servers: options.servers } : {}),
  });
  const faults = new RdsFaults();
  const server = createServer((req, res) => {
    void handle(req, res, state, faults, log);
  });
  const host = options.host ?? D.LAB_RDS_HOST;
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen({ port: options.port ?? 0, host }, () => {
      server.off('error', failed);
      listening();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  log.info({ port }, 'rds stand-in listening');
  let closing: Promise<void> | null = null;
  const standIn: RdsStandIn = {
    url: `http://${host}:${port}`,
    port,
    faults,
    lab: {
      configureCluster: async (id, settings) => void (await state.configureCluster(id, settings)),
      setClusterParameter: (id, name, value, opts) => state.setClusterParameter(id, name, value, opts),
    },
    close: () =>
      (closing ??= (async () => {
        if (byFolder.get(dir) === standIn) byFolder.delete(dir);
        await new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
        await state.close();
      })()),
  };
  byFolder.set(dir, standIn);
  return standIn;
}

async function handle(req: IncomingMessage, res: ServerResponse, state: RdsState, faults: RdsFaults, log: Logger): Promise<void> {
  const requestId = randomUUID();
  let action = '(none)';
  try {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname !== '/') throw new RdsApiError('InvalidAction', 404, `No RDS operation at path ${url.pathname}; POST to / with Action=...`);
    if (req.method !== 'POST' && req.method !== 'GET') throw new RdsApiError('InvalidAction', 405, `HTTP method ${req.method} is not supported`);
    const params = readQueryParams(req.method === 'POST' ? await readBodyOrFault(req) : '', url.search);
    const name = readString(params, 'Action');
    if (name === undefined) throw new RdsApiError('MissingAction', 400, 'The request must contain the parameter Action');
    action = name;
    const handler = ACTIONS[name];
    if (!handler) throw new RdsApiError('InvalidAction', 400, `The action ${name} is not valid for this web service.`);
    const version = readString(params, 'Version');
    if (version === undefined) throw new RdsApiError('MissingParameter', 400, 'The request must contain the parameter Version');
    if (version !== D.RDS_API_VERSION) {
      throw new RdsApiError('InvalidParameterValue', 400, `Version ${version} is not supported; this service speaks ${D.RDS_API_VERSION}`);
    }
    const fault = faults.take(name);
    if (fault) throw fault;
    const result = await handler(state, params);
    send(res, 200, renderResult(name, result, requestId), requestId);
    log.debug({ action, requestId }, 'rds stand-in request');
  } catch (err) {
    const apiError = err instanceof RdsApiError ? err : new RdsApiError('InternalFailure', 500, 'The request processing has failed because of an unknown error.');
    if (!(err instanceof RdsApiError)) log.error({ err: describeError(err), action, requestId }, 'rds stand-in failed');
    send(res, apiError.status, renderError(apiError, requestId), requestId);
    log.debug({ action, requestId, code: apiError.code }, 'rds stand-in error');
  }
}

async function readBodyOrFault(req: IncomingMessage): Promise<string> {
  try {
    return await readBody(req, MAX_BODY_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new RdsApiError('InvalidParameterValue', 413, `The request body is larger than ${MAX_BODY_BYTES} bytes`);
    throw err;
  }
}

function send(res: ServerResponse, status: number, body: string, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'text/xml',
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
  });
  res.end(body);
}
