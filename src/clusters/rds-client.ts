import { RDSClient } from '@aws-sdk/client-rds';
import type { AwsConfig } from '../config/schema.js';

/**
 * The RDS client pgshift uses: region and retries from config, the endpoint override
 * when one is configured (the lab's stand-in), and explicit keys only when the config
 * gives them; otherwise the SDK's default chain (task role, environment) applies.
 */
export function createRdsClient(aws: AwsConfig): RDSClient {
  const accessKeyId = aws.accessKeyId;
  const secretAccessKey = aws.secretAccessKey;
  return new RDSClient({
    region: aws.region,
    maxAttempts: aws.maxAttempts,
    ...(aws.rdsEndpoint === undefined ? {} : { endpoint: aws.rdsEndpoint }),
    ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  });
}
