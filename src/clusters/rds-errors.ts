import { PgshiftError } from '../errors.js';

interface AwsErrorShape {
  name?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** RDS error names and the coded errors they become, with the HTTP status pgshift's API answers. */
const KNOWN: Record<string, { code: `PGSHIFT_ERR_${string}`; status: number }> = {
  DBClusterNotFoundFault: { code: 'PGSHIFT_ERR_CLUSTER_NOT_FOUND', status: 404 },
  DBClusterSnapshotNotFoundFault: { code: 'PGSHIFT_ERR_SNAPSHOT_NOT_FOUND', status: 404 },
  DBClusterSnapshotAlreadyExistsFault: { code: 'PGSHIFT_ERR_SNAPSHOT_EXISTS', status: 409 },
  InvalidDBClusterStateFault: { code: 'PGSHIFT_ERR_CLUSTER_UNAVAILABLE', status: 409 },
  InvalidDBClusterSnapshotStateFault: { code: 'PGSHIFT_ERR_SNAPSHOT_FAILED', status: 409 },
  SnapshotQuotaExceededFault: { code: 'PGSHIFT_ERR_SNAPSHOT_QUOTA', status: 409 },
  SnapshotQuotaExceeded: { code: 'PGSHIFT_ERR_SNAPSHOT_QUOTA', status: 409 },
  InvalidParameterValue: { code: 'PGSHIFT_ERR_RDS_INVALID_PARAMETER', status: 400 },
  InvalidParameterCombination: { code: 'PGSHIFT_ERR_RDS_INVALID_PARAMETER', status: 400 },
  MissingParameter: { code: 'PGSHIFT_ERR_RDS_INVALID_PARAMETER', status: 400 },
  DBClusterAlreadyExistsFault: { code: 'PGSHIFT_ERR_CLUSTER_EXISTS', status: 409 },
  DBInstanceAlreadyExistsFault: { code: 'PGSHIFT_ERR_INSTANCE_EXISTS', status: 409 },
  DBInstanceAlreadyExists: { code: 'PGSHIFT_ERR_INSTANCE_EXISTS', status: 409 },
  DBInstanceNotFoundFault: { code: 'PGSHIFT_ERR_INSTANCE_NOT_FOUND', status: 404 },
  DBInstanceNotFound: { code: 'PGSHIFT_ERR_INSTANCE_NOT_FOUND', status: 404 },
  InvalidDBInstanceStateFault: { code: 'PGSHIFT_ERR_INSTANCE_UNAVAILABLE', status: 409 },
  InvalidDBInstanceState: { code: 'PGSHIFT_ERR_INSTANCE_UNAVAILABLE', status: 409 },
  DBClusterParameterGroupNotFoundFault: { code: 'PGSHIFT_ERR_RDS_PARAMETER_GROUP_NOT_FOUND', status: 400 },
  DBClusterParameterGroupNotFound: { code: 'PGSHIFT_ERR_RDS_PARAMETER_GROUP_NOT_FOUND', status: 400 },
  // What DescribeDBClusterParameters answers for a cluster parameter group it does not have.
  DBParameterGroupNotFoundFault: { code: 'PGSHIFT_ERR_RDS_PARAMETER_GROUP_NOT_FOUND', status: 400 },
  DBParameterGroupNotFound: { code: 'PGSHIFT_ERR_RDS_PARAMETER_GROUP_NOT_FOUND', status: 400 },
  DBSubnetGroupNotFoundFault: { code: 'PGSHIFT_ERR_RDS_INVALID_PARAMETER', status: 400 },
  DBClusterQuotaExceededFault: { code: 'PGSHIFT_ERR_RDS_QUOTA', status: 409 },
  InstanceQuotaExceeded: { code: 'PGSHIFT_ERR_RDS_QUOTA', status: 409 },
  InstanceQuotaExceededFault: { code: 'PGSHIFT_ERR_RDS_QUOTA', status: 409 },
  Throttling: { code: 'PGSHIFT_ERR_RDS_THROTTLED', status: 503 },
  AccessDenied: { code: 'PGSHIFT_ERR_RDS_ACCESS_DENIED', status: 502 },
  AccessDeniedException: { code: 'PGSHIFT_ERR_RDS_ACCESS_DENIED', status: 502 },
  UnrecognizedClientException: { code: 'PGSHIFT_ERR_RDS_ACCESS_DENIED', status: 502 },
  InvalidClientTokenId: { code: 'PGSHIFT_ERR_RDS_ACCESS_DENIED', status: 502 },
  CredentialsProviderError: { code: 'PGSHIFT_ERR_RDS_ACCESS_DENIED', status: 502 },
};

/**
 * Turns what the RDS client threw into a coded PgshiftError that says what pgshift
 * was doing; the SDK error stays as `cause`, its name and request id go into details.
 */
export function wrapRdsError(err: unknown, doing: string): PgshiftError {
  if (err instanceof PgshiftError) return err;
  const aws = (err ?? {}) as AwsErrorShape;
  const name = aws.name ?? 'Error';
  const known = KNOWN[name];
  const details = {
    awsError: name,
    ...(aws.$metadata?.requestId ? { requestId: aws.$metadata.requestId } : {}),
    ...(aws.$metadata?.httpStatusCode ? { httpStatus: aws.$metadata.httpStatusCode } : {}),
  };
  const message = `${doing}: ${aws.message || name}`;
  if (known) return new PgshiftError(known.code, message, { status: known.status, details, cause: err });
  return new PgshiftError('PGSHIFT_ERR_RDS', message, { status: 502, details, cause: err });
}
