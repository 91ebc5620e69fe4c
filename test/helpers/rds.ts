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
