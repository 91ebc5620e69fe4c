/**
 * An error the stand-in answers with, in Route 53's terms: the wire code, the HTTP
 * status the model gives it, and the fault side (`Sender` for client faults).
 */
export class Route53Fault extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: 'Sender' | 'Receiver';

  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'Route53Fault';
    this.code = code;
    this.status = status;
    this.type = status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** One InvalidChangeBatch for a whole batch: every problem, bracketed, comma-separated. */
export function invalidChangeBatch(messages: readonly string[]): Route53Fault {
  return new Route53Fault('InvalidChangeBatch', `[${messages.join(', ')}]`);
}

/** The "N validation errors detected" form of constraint violations (InvalidInput). */
export function validationErrors(problems: readonly string[]): Route53Fault {
  const count = problems.length;
  return new Route53Fault(
    'InvalidInput',
    `${count} validation error${count === 1 ? '' : 's'} detected: ${problems.join('; ')}`,
  );
}

export function invalidInput(message: string): Route53Fault {
  return new Route53Fault('InvalidInput', message);
}

export function malformedInput(message: string): Route53Fault {
  return new Route53Fault('MalformedInput', message);
}

export function noSuchHostedZone(id: string): Route53Fault {
  return new Route53Fault('NoSuchHostedZone', `No hosted zone found with ID: ${id}`, 404);
}

export function noSuchChange(id: string): Route53Fault {
  return new Route53Fault('NoSuchChange', `A change with the specified change ID does not exist: ${id}`, 404);
}

export function noSuchHealthCheck(id: string): Route53Fault {
  return new Route53Fault('NoSuchHealthCheck', `No health check found with ID: ${id}`, 404);
}

export function priorRequestNotComplete(): Route53Fault {
  return new Route53Fault(
    'PriorRequestNotComplete',
    'The request was rejected because Route 53 was still processing a prior request.',
  );
}

export function throttling(): Route53Fault {
  return new Route53Fault('Throttling', 'Rate exceeded');
}

const SERVER_ERRORS: Record<number, [string, string]> = {
  500: ['InternalFailure', 'The request processing has failed because of an unknown error.'],
  502: ['BadGateway', 'Bad gateway.'],
  503: ['ServiceUnavailable', 'The service is unavailable. Please try again later.'],
  504: ['GatewayTimeout', 'The gateway timed out.'],
};

export function serverError(status: number): Route53Fault {
  const [code, message] = SERVER_ERRORS[status] ?? SERVER_ERRORS[500]!;
  return new Route53Fault(code, message, status);
}
