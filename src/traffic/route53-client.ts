import { Route53Client } from '@aws-sdk/client-route-53';
import type { AwsConfig } from '../config/schema.js';
import { PgshiftError } from '../errors.js';

/**
 * The Route 53 client pgshift uses: the config's region, endpoint override (the lab's
 * stand-in) and keys when given, otherwise the SDK's default credential chain (an ECS
 * task role in production). SDK retries are off: Route53Router retries itself, with the
 * config's aws.maxAttempts, so attempts are not multiplied.
 */
export function createRoute53Client(aws: AwsConfig): Route53Client {
  const hasKey = aws.accessKeyId !== undefined;
  const hasSecret = aws.secretAccessKey !== undefined;
  if (hasKey !== hasSecret) {
    throw new PgshiftError('PGSHIFT_ERR_CONFIG_INVALID', 'aws.accessKeyId and aws.secretAccessKey must be given together', {
      status: 400,
      details: { problems: [`aws.${hasKey ? 'secretAccessKey' : 'accessKeyId'}: is required when the other key is given`] },
    });
  }
  return new Route53Client({
    region: aws.region,
    maxAttempts: 1,
    ...(aws.route53Endpoint ? { endpoint: aws.route53Endpoint } : {}),
    ...(hasKey && hasSecret ? { credentials: { accessKeyId: aws.accessKeyId!, secretAccessKey: aws.secretAccessKey! } } : {}),
  });
}
