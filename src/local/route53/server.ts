import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../clock.js';
import * as D from '../../defaults.js';
import { describeError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import { Route53Fault, serverError, throttling, validationErrors } from './errors.js';
import { AccountLimiter, FaultInjector, FaultPatchError } from './faults.js';
import { STANDIN_NAME_SERVERS, Route53Store } from './store.js';
import { normaliseName } from './names.js';
import * as xml from './xml.js';
import { BodyTooLarge, readBody } from '../http-body.js';

export interface Route53StandInOptions {
  host?: string;
  /** 0 or absent: any free port. */
  port?: number;
  /** JSON file the zones persist in; absent keeps them in memory. */
  file?: string;
  clock?: Clock;
  /** How long a change stays PENDING before INSYNC. */
  insyncDelayMs?: number;
  /** Refuse a change while an earlier change to the same zone is PENDING (default on). */
  priorRequestCheck?: boolean;
  /**
   * Route 53's account request limit (a bucket of `burst` refilling at `perSecond`, 50 and
   * 10 by default, as documented), or false to serve every call. Switchable later through
   * the faults (`accountLimit`, `accountBurst`, `accountPerSecond`).
   */
  accountLimit?: { burst?: number; perSecond?: number } | false;
  /** Source of randomness for the fault shares; tests pass a seeded one. */
  random?: () => number;
  log?: Logger;
}

/** One API call as the stand-in saw it; `seq` and `at` are taken on arrival. */
export interface RequestLogEntry {
  seq: number;
  at: number;
  method: string;
  path: string;
  /** The query string, e.g. `?name=x.&type=CNAME&identifier=green&maxitems=1`; empty when none. */
  query: string;
  operation: string;
  status: number;
  zoneId?: string;
  changeId?: string;
  changeStatus?: 'PENDING' | 'INSYNC';
  comment?: string;
  errorCode?: string;
}

export type Route53Operation =
  | 'CreateHostedZone'
  | 'ListHostedZones'
  | 'ListHostedZonesByName'
  | 'GetHostedZone'
  | 'ChangeResourceRecordSets'
  | 'ListResourceRecordSets'
  | 'GetChange';

const API = '/2013-04-01';
const ROUTES: { method: string; pattern: RegExp; operation: Route53Operation }[] = [
  { method: 'POST', pattern: /^\/2013-04-01\/hostedzone\/?$/, operation: 'CreateHostedZone' },
  { method: 'GET', pattern: /^\/2013-04-01\/hostedzone\/?$/, operation: 'ListHostedZones' },
  { method: 'GET', pattern: /^\/2013-04-01\/hostedzonesbyname\/?$/, operation: 'ListHostedZonesByName' },
  { method: 'GET', pattern: /^\/2013-04-01\/hostedzone\/([^/]+)\/?$/, operation: 'GetHostedZone' },
  // The SDK posts to `/rrset`, the CLI to `/rrset/`.
  { method: 'POST', pattern: /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/, operation: 'ChangeResourceRecordSets' },
  { method: 'GET', pattern: /^\/2013-04-01\/hostedzone\/([^/]+)\/rrset\/?$/, operation: 'ListResourceRecordSets' },
  { method: 'GET', pattern: /^\/2013-04-01\/change\/([^/]+)\/?$/, operation: 'GetChange' },
];

interface Reply {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

type Note = Partial<RequestLogEntry>;


/**
 * A local Route 53 on loopback that the real SDK clients and the AWS CLI talk to through
 * an endpoint override. It speaks the REST-XML wire protocol for the operations pgshift
 * and an operator need, enforces Route 53's change rules (see rules.ts), and keeps a log
 * of the calls it answered so tests can prove ordering from the server's side.
 * Signatures are not checked: any credentials work.
 */
export class Route53StandIn {
  readonly store: Route53Store;
  readonly faults: FaultInjector;
  private readonly server: Server;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly requestLog: RequestLogEntry[] = [];
  private readonly hooks = new Map<Route53Operation, (() => Promise<void> | void)[]>();
  private readonly limiter = new AccountLimiter();
  /** Aborted by stop(), so that slow answers do not keep timers alive. */
  private readonly stopping = new AbortController();
  private seq = 0;

  private constructor(store: Route53Store, faults: FaultInjector, clock: Clock, log: Logger) {
    this.store = store;
    this.faults = faults;
    this.clock = clock;
    this.log = log;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err: describeError(err) }, 'stand-in failed to answer a call');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 5_000;
  }

  static async start(options: Route53StandInOptions = {}): Promise<Route53StandIn> {
    const clock = options.clock ?? systemClock;
    const limit = options.accountLimit || {};
    const faults = new FaultInjector(
      {
        insyncDelayMs: options.insyncDelayMs ?? D.LAB_ROUTE53_INSYNC_DELAY_MS,
        priorRequestCheck: options.priorRequestCheck ?? true,
        accountLimit: options.accountLimit !== false,
        accountBurst: limit.burst ?? D.LAB_ROUTE53_ACCOUNT_BURST,
        accountPerSecond: limit.perSecond ?? D.LAB_ROUTE53_ACCOUNT_PER_SECOND,
      },
      options.random ?? Math.random,
    );
    const store = await Route53Store.open({
      ...(options.file ? { file: options.file } : {}),
      clock,
      insyncDelayMs: () => faults.settings.insyncDelayMs,
      priorRequestCheck: () => faults.settings.priorRequestCheck,
    });
    const standIn = new Route53StandIn(store, faults, clock, (options.log ?? silentLogger()).child({ component: 'route53-standin' }));
    await new Promise<void>((resolve, reject) => {
      standIn.server.once('error', reject);
      standIn.server.listen({ host: options.host ?? D.LAB_ROUTE53_HOST, port: options.port ?? 0 }, () => {
        standIn.server.off('error', reject);
        resolve();
      });
    });
    standIn.log.info({ url: standIn.url }, 'Route 53 stand-in listening');
    return standIn;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The endpoint to give the SDK (`endpoint`) or the CLI (`--endpoint-url`). */
  get url(): string {
    const address = this.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host}:${address.port}`;
  }

  /** The calls answered so far, oldest first; optionally only one operation's. */
  requests(operation?: Route53Operation): RequestLogEntry[] {
    return this.requestLog
      .filter((e) => operation === undefined || e.operation === operation)
      .sort((a, b) => a.seq - b.seq)
      .map((e) => ({ ...e }));
  }

  clearRequests(): void {
    this.requestLog.length = 0;
  }

  /**
   * Runs `hook` once, right before the next call of `operation` is processed (after the
   * fault check): for tests that need another client to act at an exact point.
   */
  beforeNext(operation: Route53Operation, hook: () => Promise<void> | void): void {
    const list = this.hooks.get(operation) ?? [];
    list.push(hook);
    this.hooks.set(operation, list);
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('the stand-in is stopping'));
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    await this.store.flush().catch(() => undefined);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const seq = ++this.seq;
    const at = this.clock.now();
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_lab/')) {
      await this.handleAdmin(method, url.pathname, req, res);
      return;
    }
    const route = ROUTES.find((r) => r.method === method && r.pattern.test(url.pathname));
    const operation = route?.operation ?? 'Unknown';
    const note: Note = {};
    let reply: Reply;
    try {
      if (!route) {
        const known = url.pathname.startsWith(API);
        throw new Route53Fault(
          known ? 'UnknownOperationException' : 'InvalidAction',
          `The pgshift Route 53 stand-in does not implement ${method} ${url.pathname}`,
          404,
        );
      }
      const idInPath = route.pattern.exec(url.pathname)?.[1];
      const id = idInPath === undefined ? undefined : decodeURIComponent(idInPath);
      if (id !== undefined) note[route.operation === 'GetChange' ? 'changeId' : 'zoneId'] = id;
      const body = method === 'POST' ? await readBody(req, D.ROUTE53_STANDIN_MAX_BODY_BYTES) : '';
      // The account limit is decided on arrival, like Route 53's; refused calls spend no token.
      const admitted = this.limiter.admit(at, this.faults.settings);
      const delayMs = this.faults.settings.delayMs[operation] ?? 0;
      if (delayMs > 0) await this.clock.sleep(delayMs, this.stopping.signal);
      if (!admitted) throw throttling();
      const fault = this.faults.pick(operation);
      if (fault) throw fault;
      for (const hook of this.hooks.get(route.operation)?.splice(0) ?? []) await hook();
      reply = await this.dispatch(route.operation, id, url.searchParams, body, note);
    } catch (err) {
      const failure = this.errorReply(err, requestId, operation);
      note.errorCode = failure.errorCode;
      reply = failure;
    }
    const entry: RequestLogEntry = {
      seq,
      at,
      method,
      path: url.pathname,
      query: url.search,
      operation,
      status: reply.status,
      ...note,
    };
    this.requestLog.push(entry);
    if (this.requestLog.length > D.ROUTE53_STANDIN_REQUEST_LOG_LIMIT) this.requestLog.shift();
    this.log.debug(entry, 'route53 call');
    res.writeHead(reply.status, {
      'content-type': 'text/xml',
      'content-length': String(Buffer.byteLength(reply.body)),
      'x-amzn-requestid': requestId,
      ...reply.headers,
    });
    res.end(reply.body);
  }

  /** Runs one call; `note` collects what the request log should show about it, even when it fails. */
  private async dispatch(operation: Route53Operation, id: string | undefined, query: URLSearchParams, body: string, note: Note): Promise<Reply> {
    const ok = (responseBody: string): Reply => ({ status: 200, body: responseBody });
    switch (operation) {
      case 'CreateHostedZone': {
        const { zone, change } = await this.store.createHostedZone(xml.parseCreateHostedZoneRequest(body));
        Object.assign(note, { zoneId: zone.id, changeId: change.id });
        return {
          status: 201,
          body: xml.createHostedZoneResponse(zone, change, STANDIN_NAME_SERVERS),
          headers: { location: `${this.url}${API}/hostedzone/${zone.id}` },
        };
      }
      case 'ListHostedZones': {
        const marker = query.get('marker') ?? undefined;
        const maxItems = readMaxItems(query);
        const page = this.store.listHostedZones(marker, maxItems);
        return ok(xml.listHostedZonesResponse(page, marker));
      }
      case 'ListHostedZonesByName': {
        const dnsName = query.get('dnsname') ?? undefined;
        const hostedZoneId = query.get('hostedzoneid') ?? undefined;
        const maxItems = readMaxItems(query);
        const page = this.store.listHostedZonesByName({
          ...(dnsName !== undefined ? { dnsName } : {}),
          ...(hostedZoneId !== undefined ? { hostedZoneId } : {}),
          ...(maxItems !== undefined ? { maxItems } : {}),
        });
        return ok(xml.listHostedZonesByNameResponse(page, dnsName, hostedZoneId));
      }
      case 'GetHostedZone':
        return ok(xml.getHostedZoneResponse(this.store.getHostedZone(id!), STANDIN_NAME_SERVERS));
      case 'ChangeResourceRecordSets': {
        const batch = xml.parseChangeBatchRequest(body);
        if (batch.comment !== undefined) note.comment = batch.comment;
        const change = await this.store.changeRecordSets(id!, batch);
        Object.assign(note, { changeId: change.id, changeStatus: change.status });
        return ok(xml.changeResourceRecordSetsResponse(change));
      }
      case 'ListResourceRecordSets': {
        const name = query.get('name') ?? undefined;
        const type = query.get('type') ?? undefined;
        const identifier = query.get('identifier') ?? undefined;
        const maxItems = readMaxItems(query);
        const page = this.store.listRecordSets(id!, {
          ...(name !== undefined ? { name } : {}),
          ...(type !== undefined ? { type } : {}),
          ...(identifier !== undefined ? { identifier } : {}),
          ...(maxItems !== undefined ? { maxItems } : {}),
        });
        return ok(xml.listResourceRecordSetsResponse(page));
      }
      case 'GetChange': {
        const change = this.store.getChange(id!);
        note.changeStatus = change.status;
        return ok(xml.getChangeResponse(change));
      }
    }
  }

  private errorReply(err: unknown, requestId: string, operation: string): Reply & { errorCode: string } {
    let fault: Route53Fault;
    if (err instanceof Route53Fault) fault = err;
    else if (err instanceof BodyTooLarge) fault = new Route53Fault('RequestEntityTooLarge', 'The request body is too large.', 413);
    else {
      this.log.error({ err: describeError(err), operation }, 'stand-in failed to handle a call');
      fault = serverError(500);
    }
    return { status: fault.status, body: xml.errorResponse(fault, requestId), errorCode: fault.code };
  }

  /** JSON control paths for tests in other processes: faults and the request log. */
  private async handleAdmin(method: string, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, value: unknown) => {
      const body = `${JSON.stringify(value)}\n`;
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    };
    const fail = (status: number, code: string, message: string, details?: unknown) =>
      send(status, { error: { code, message, ...(details !== undefined ? { details } : {}) } });
    try {
      if (path === '/_lab/faults' && method === 'GET') return send(200, this.faults.settings);
      if (path === '/_lab/faults' && method === 'DELETE') return send(200, this.faults.reset());
      if (path === '/_lab/faults' && method === 'POST') {
        let patch: unknown;
        try {
          patch = JSON.parse((await readBody(req, D.ROUTE53_STANDIN_MAX_BODY_BYTES)) || '{}');
        } catch {
          return fail(400, 'PGSHIFT_ERR_STANDIN_BAD_JSON', 'the body is not JSON');
        }
        return send(200, this.faults.set(patch));
      }
      if (path === '/_lab/records' && method === 'GET') {
        // What a DNS resolver sees (the lab's demo workload resolves names here): real DNS
        // queries do not count against the Route 53 API limit, and neither does this.
        const query = new URL(req.url ?? '/', 'http://stand-in').searchParams;
        const zone = query.get('zone');
        const name = query.get('name');
        if (!zone || !name) return fail(400, 'PGSHIFT_ERR_STANDIN_BAD_QUERY', 'give zone and name');
        const wanted = normaliseName(name);
        return send(200, this.store.recordSets(zone).filter((r) => r.name === wanted));
      }
      if (path === '/_lab/requests' && method === 'GET') return send(200, this.requests());
      if (path === '/_lab/requests' && method === 'DELETE') {
        this.clearRequests();
        return send(200, []);
      }
      return fail(404, 'PGSHIFT_ERR_STANDIN_NOT_FOUND', `no control path ${method} ${path}`);
    } catch (err) {
      if (err instanceof Route53Fault) return fail(err.status, 'PGSHIFT_ERR_STANDIN_REJECTED', `${err.code}: ${err.message}`);
      if (err instanceof FaultPatchError) return fail(400, 'PGSHIFT_ERR_STANDIN_FAULTS_INVALID', err.message, { problems: err.problems });
      if (err instanceof BodyTooLarge) return fail(413, 'PGSHIFT_ERR_STANDIN_BODY_TOO_LARGE', 'the body is too large');
      return fail(500, 'PGSHIFT_ERR_STANDIN_INTERNAL', describeError(err));
    }
  }
}

function readMaxItems(query: URLSearchParams): number | undefined {
  const raw = query.get('maxitems');
  if (raw === null) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw validationErrors([`Value '${raw}' at 'maxItems' failed to satisfy constraint: Member must be a positive integer`]);
  }
  return Number(raw);
}

