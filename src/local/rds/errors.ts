/**
 * An error the stand-in answers with, in RDS's own terms: the wire code of the
 * service model (not always the shape name), the HTTP status, and the fault side.
 */
export class RdsApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: 'Sender' | 'Receiver';

  constructor(code: string, status: number, message: string) {
    super(message);
    this.name = 'RdsApiError';
    this.code = code;
    this.status = status;
    this.type = status >= 500 ? 'Receiver' : 'Sender';
  }
}

export const IDENTIFIER_RULE =
  'Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.';

export function invalidIdentifier(parameter: string): RdsApiError {
  return new RdsApiError('InvalidParameterValue', 400, `The parameter ${parameter} is not a valid identifier. ${IDENTIFIER_RULE}`);
}

export function clusterNotFound(id: string): RdsApiError {
  return new RdsApiError('DBClusterNotFoundFault', 404, `DBCluster ${id} not found.`);
}

export function snapshotNotFound(id: string): RdsApiError {
  return new RdsApiError('DBClusterSnapshotNotFoundFault', 404, `DBClusterSnapshot ${id} not found.`);
}

export function instanceNotFound(id: string): RdsApiError {
  return new RdsApiError('DBInstanceNotFound', 404, `DBInstance ${id} not found.`);
}
