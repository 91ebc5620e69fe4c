import { readFileSync } from 'node:fs';
import Type from 'typebox';
import Value from 'typebox/value';

/**
 * What the deploy kit needs to know about an account: the parameter file
 * (deploy/parameters.example.json shows every key). One schema for the CDK app, the
 * policy script and the tests, so a key the stack reads is a key the file is checked for.
 */
const strict = { additionalProperties: false } as const;

/**
 * The secrets config/aws.example.yaml reads as ${NAME}: ECS puts each into the task's
 * environment from Secrets Manager, so none is in the template, the image or the file.
 * test/deploy compares this list with the names the example config uses.
 */
export const SECRET_VARIABLES = [
  'PGSHIFT_STATE_URL',
  'PGSHIFT_OPERATOR_TOKEN_SHA256',
  'PGSHIFT_VIEWER_TOKEN_SHA256',
  'PGSHIFT_BLUE_PASSWORD',
  'PGSHIFT_BLUE_ADMIN_PASSWORD',
  'PGSHIFT_GREEN_PASSWORD',
  'PGSHIFT_GREEN_ADMIN_PASSWORD',
] as const;

const Port = Type.Integer({ minimum: 1, maximum: 65535 });
const Cidr = Type.String({ pattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$' });
const SecurityGroupId = Type.String({ pattern: '^sg-[0-9a-f]{8,17}$' });
// RDS identifiers: letters, digits, hyphens, starting with a letter (they go into ARNs).
const ClusterId = Type.String({ pattern: '^[A-Za-z](?:-?[A-Za-z0-9])*$', maxLength: 63 });
// A record name as pgshift's config has it: lower or upper case, with or without the final dot.
const RecordName = Type.String({ pattern: '^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)+\\.?$' });
const SecretArn = Type.String({ pattern: '^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\\d{12}:secret:.+-[A-Za-z0-9]{6}$' });

/** Where a database the tasks dial lives: its port, and the security group or CIDR that admits them. */
const access = {
  port: Type.Optional(Port),
  securityGroupId: Type.Optional(SecurityGroupId),
  cidr: Type.Optional(Cidr),
};
const DatabaseAccessSchema = Type.Object(access, strict);
// A DB cluster parameter group's name: letters, digits, hyphens, starting with a letter.
const ParameterGroupName = Type.String({ pattern: '^[A-Za-z](?:-?[A-Za-z0-9.])*$', maxLength: 255 });
const ClusterSchema = Type.Object(
  {
    id: ClusterId,
    ...access,
    /** Its DB cluster parameter group, which preflight reads; without it the policy allows reading any group of the account and region. */
    parameterGroup: Type.Optional(ParameterGroupName),
  },
  strict,
);

const SecretRefSchema = Type.Object({ secretArn: SecretArn, jsonField: Type.String({ minLength: 1 }) }, strict);

export const DeployParametersSchema = Type.Object(
  {
    account: Type.String({ pattern: '^\\d{12}$' }),
    region: Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-\\d$' }),
    stackName: Type.Optional(Type.String({ pattern: '^[A-Za-z][A-Za-z0-9-]*$' })),
    vpcId: Type.String({ pattern: '^vpc-[0-9a-f]{8,17}$' }),
    // Private subnets, one per availability zone given below, in the same order.
    subnetIds: Type.Array(Type.String({ pattern: '^subnet-[0-9a-f]{8,17}$' }), { minItems: 1 }),
    availabilityZones: Type.Array(Type.String({ pattern: '^[a-z]{2}(-[a-z]+)+-\\d[a-z]$' }), { minItems: 1 }),
    // The pgshift image with the configuration at /app/config/pgshift.yaml (see docs/aws.md).
    image: Type.String({ minLength: 1 }),
    apiPort: Type.Optional(Port),
    // Who may call the API: a CIDR, or a load balancer's security group; exactly one.
    allowedCidr: Type.Optional(Cidr),
    loadBalancerSecurityGroupId: Type.Optional(SecurityGroupId),
    clusters: Type.Object({ blue: ClusterSchema, green: ClusterSchema }, strict),
    stateDatabase: DatabaseAccessSchema,
    dns: Type.Object(
      {
        hostedZoneId: Type.String({ pattern: '^Z[A-Z0-9]{1,31}$' }),
        // Every name pgshift writes: the reader and writer names of each pair.
        recordNames: Type.Array(RecordName, { minItems: 1 }),
      },
      strict,
    ),
    // One Secrets Manager secret (JSON) holding a field per variable, named as the variable;
    // `secretOverrides` points single variables elsewhere (e.g. RDS's own master-user secret).
    secretArn: SecretArn,
    secretOverrides: Type.Optional(Type.Record(Type.String({ pattern: '^PGSHIFT_[A-Z0-9_]+$' }), SecretRefSchema)),
    cpu: Type.Optional(Type.Union([Type.Literal(256), Type.Literal(512), Type.Literal(1024), Type.Literal(2048), Type.Literal(4096)])),
    memoryMiB: Type.Optional(Type.Integer({ minimum: 512, maximum: 30720 })),
    // Fargate stops a task with SIGTERM, then SIGKILL after this; it allows at most 120 s.
    stopTimeoutSeconds: Type.Optional(Type.Integer({ minimum: 2, maximum: 120 })),
    logRetentionDays: Type.Optional(Type.Integer({ minimum: 1 })),
    // Rehearsals (pgshift rehearse): the task may restore blue's snapshots and create and
    // delete staging clusters named pgshift-rehearsal-*; off unless asked for.
    rehearsals: Type.Optional(Type.Boolean()),
  },
  strict,
);
export type DeployParameters = Type.Static<typeof DeployParametersSchema>;

export class ParameterError extends Error {
  constructor(
    source: string,
    readonly problems: string[],
  ) {
    super(`invalid deploy parameters in ${source}:\n${problems.join('\n')}`);
  }
}

interface SchemaIssue {
  keyword: string;
  instancePath: string;
  message: string;
  params: Record<string, unknown>;
}

function keyPath(pointer: string, extra?: string): string {
  const parts = pointer.split('/').filter((p) => p !== '');
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '(top level)' : parts.join('.');
}

/** Checks a parsed parameter document; every problem is one line naming its key. */
export function parseDeployParameters(raw: unknown, source = 'parameters'): DeployParameters {
  const problems = new Map<string, string>();
  for (const issue of Value.Errors(DeployParametersSchema, raw) as unknown as SchemaIssue[]) {
    if (issue.keyword === 'required') {
      for (const key of (issue.params.requiredProperties as string[]) ?? []) problems.set(keyPath(issue.instancePath, key), `${keyPath(issue.instancePath, key)}: is required`);
    } else if (issue.keyword === 'additionalProperties') {
      for (const key of (issue.params.additionalProperties as string[]) ?? []) problems.set(keyPath(issue.instancePath, key), `${keyPath(issue.instancePath, key)}: unknown key`);
    } else if (issue.keyword !== 'boolean' && issue.keyword !== 'anyOf') {
      const at = keyPath(issue.instancePath);
      if (!problems.has(at)) problems.set(at, `${at}: ${issue.message}`);
    }
  }
  if (problems.size > 0) throw new ParameterError(source, [...problems.values()]);
  const params = raw as DeployParameters;
  const rules: string[] = [];
  if ((params.allowedCidr === undefined) === (params.loadBalancerSecurityGroupId === undefined)) {
    rules.push('allowedCidr / loadBalancerSecurityGroupId: give exactly one (who may call the API)');
  }
  const access = { 'clusters.blue': params.clusters.blue, 'clusters.green': params.clusters.green, stateDatabase: params.stateDatabase };
  for (const [key, value] of Object.entries(access)) {
    if ((value.securityGroupId === undefined) === (value.cidr === undefined)) rules.push(`${key}: give exactly one of securityGroupId and cidr`);
  }
  if (params.subnetIds.length !== params.availabilityZones.length) {
    rules.push(`subnetIds / availabilityZones: one subnet per zone (${params.subnetIds.length} subnets, ${params.availabilityZones.length} zones)`);
  }
  if (params.clusters.blue.id.toLowerCase() === params.clusters.green.id.toLowerCase()) rules.push('clusters.green.id: is the same cluster as clusters.blue.id');
  for (const name of Object.keys(params.secretOverrides ?? {})) {
    if (!(SECRET_VARIABLES as readonly string[]).includes(name)) rules.push(`secretOverrides.${name}: not a variable the configuration reads (${SECRET_VARIABLES.join(', ')})`);
  }
  if (rules.length > 0) throw new ParameterError(source, rules);
  return params;
}

/** Reads and checks a JSON parameter file. */
export function loadDeployParameters(path: string): DeployParameters {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ParameterError(path, [`(file): cannot read ${path} as JSON: ${(err as Error).message}`]);
  }
  return parseDeployParameters(raw, path);
}
