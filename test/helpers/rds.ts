import { RDSClient } from '@aws-sdk/client-rds';
import * as D from '../../src/defaults.js';

/**
 * The real SDK client pointed at the RDS stand-in, with the lab's keys. One attempt by
 * default, so a test sees each answer as the stand-in gave it; a test that only watches
 * asks for more (a kept-alive socket the stand-in closed a moment before, ECONNRESET, is
 * retried as pgshift's own client does).
 */
export function standInRds(endpoint: string, maxAttempts = 1): RDSClient {
  return new RDSClient({
    region: 'us-east-1',
    endpoint,
    credentials: { accessKeyId: D.LAB_AWS_ACCESS_KEY_ID, secretAccessKey: D.LAB_AWS_SECRET_ACCESS_KEY },
    maxAttempts,
  });
}

/** The SDK's error for a call that must fail: its AWS name, message, HTTP status and request id. */
export async function rdsError(call: Promise<unknown>): Promise<{ name: string; message: string; status?: number; requestId?: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { name: string; message: string; $metadata?: { httpStatusCode?: number; requestId?: string } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode, requestId: e.$metadata?.requestId };
  }
  throw new Error('the call succeeded but was expected to fail');
}
