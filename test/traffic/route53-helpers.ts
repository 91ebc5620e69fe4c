import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import type { Test } from 'tap';
import * as D from '../../src/defaults.js';
import { Route53StandIn, type Route53StandInOptions } from '../../src/local/route53/server.js';
import { systemClock } from '../../src/clock.js';
import { Route53Account, type Route53AccountOptions } from '../../src/traffic/route53-account.js';
import { createRoute53Client } from '../../src/traffic/route53-client.js';
import { testLogger } from '../helpers/lab.js';

/** A Route 53 stand-in of its own for one test file, with its zone file in a temp folder. */
export async function startStandIn(t: Test, options: Route53StandInOptions = {}): Promise<{ standIn: Route53StandIn; dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-route53-'));
  const file = join(dir, 'route53.json');
  const standIn = await Route53StandIn.start({ file, insyncDelayMs: 0, log: testLogger(), ...options });
  t.teardown(async () => {
    await standIn.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { standIn, dir, file };
}

/** The real SDK client pointed at the stand-in; SDK retries off unless asked. */
export function sdkClient(url: string, maxAttempts = 1): Route53Client {
  return new Route53Client({
    region: 'us-east-1',
    endpoint: url,
    credentials: { accessKeyId: D.LAB_AWS_ACCESS_KEY_ID, secretAccessKey: D.LAB_AWS_SECRET_ACCESS_KEY },
    maxAttempts,
  });
}

/** pgshift's own client (createRoute53Client, as the service builds it) pointed at the stand-in. */
export function pgshiftClient(t: Test, url: string): Route53Client {
  const client = createRoute53Client({
    region: 'us-east-1',
    route53Endpoint: url,
    accessKeyId: D.LAB_AWS_ACCESS_KEY_ID,
    secretAccessKey: D.LAB_AWS_SECRET_ACCESS_KEY,
    maxAttempts: 5,
  });
  t.teardown(() => client.destroy());
  return client;
}

let zoneCounter = 0;

/** A fresh hosted zone (bare id), created through the API. */
export async function createZone(client: Route53Client, name = 'example.test'): Promise<string> {
  const out = await client.send(new CreateHostedZoneCommand({ Name: name, CallerReference: `test-${process.pid}-${Date.now()}-${++zoneCounter}` }));
  return out.HostedZone!.Id!.replace('/hostedzone/', '');
}

export interface AwsErrorSeen {
  name: string;
  message: string;
  status: number | undefined;
  requestId: string | undefined;
  fault: string | undefined;
  className: string;
}

/** The SDK's error for a call that must fail: its AWS name, HTTP status and request id. */
export async function awsError(call: Promise<unknown>): Promise<AwsErrorSeen> {
  try {
    await call;
  } catch (err) {
    const e = err as { name: string; message: string; $fault?: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
    return {
      name: e.name,
      message: e.message,
      status: e.$metadata?.httpStatusCode,
      requestId: e.$metadata?.requestId,
      fault: e.$fault,
      className: (err as object).constructor.name,
    };
  }
  throw new Error('the call succeeded but was expected to fail');
}

/** The rejection of a call that must fail. */
export async function rejection(call: Promise<unknown>): Promise<Error & { code?: string; status?: number; details?: any; cause?: any }> {
  try {
    await call;
  } catch (err) {
    return err as Error;
  }
  throw new Error('the call succeeded but was expected to fail');
}

/** Retry settings that keep tests fast; deterministic jitter at the ceiling. */
export const FAST_RETRY = { maxAttempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
export const FAST_INSYNC = { timeoutMs: 10_000, pollMs: 10, pollFactor: 1.5, pollMaxMs: 50 };

/**
 * A Route53Account for functional tests: fast retries and INSYNC polls, no pause between
 * listings, and a budget high enough not to slow them (the budget has tests of its own);
 * closed at the end of the test.
 */
export function testAccount(t: Test, client: Route53Client, options: Partial<Route53AccountOptions> = {}): Route53Account {
  const account = new Route53Account({
    client,
    clock: systemClock,
    log: testLogger(),
    retry: FAST_RETRY,
    insync: FAST_INSYNC,
    minListIntervalMs: 0,
    budget: { requestsPerSecond: 1_000, burst: 1_000 },
    random: () => 1,
    ...options,
  });
  t.teardown(() => account.close());
  return account;
}
