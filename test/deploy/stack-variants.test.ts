import t from 'tap';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDeployParameters } from '../../deploy/parameters.js';
import { normalizeRecordName } from '../../deploy/policy.js';
import { PgshiftStack } from '../../deploy/stack.js';
import type { PairConfig } from '../../src/config/schema.js';
import { stagingRecordNames } from '../../src/rehearsal/runner.js';
import { ROOT } from '../helpers/process.js';

type Json = Record<string, any>;

const LB = 'sg-0fedcba9876543210';
const RDS_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-1234-XyZ123';

// The other branch of every choice the example file makes: a load balancer instead of a
// CIDR, databases by CIDR, a secret from RDS's own, an image outside ECR, other numbers.
const example = JSON.parse(readFileSync(join(ROOT, 'deploy', 'parameters.example.json'), 'utf8'));
delete example.allowedCidr;
const params = parseDeployParameters({
  ...example,
  image: 'ghcr.io/example/pgshift:0.1.0',
  apiPort: 8080,
  loadBalancerSecurityGroupId: LB,
  clusters: { blue: { id: 'orders-pg13', cidr: '10.1.0.0/24' }, green: { id: 'orders-pg14', port: 5433, cidr: '10.1.1.0/24' } },
  stateDatabase: { cidr: '10.1.2.0/24' },
  secretOverrides: { PGSHIFT_BLUE_ADMIN_PASSWORD: { secretArn: RDS_SECRET, jsonField: 'password' } },
  stopTimeoutSeconds: 120,
  rehearsals: true,
});
const resources = Template.fromStack(new PgshiftStack(new App(), 'Variant', params)).toJSON().Resources as Record<string, { Type: string; Properties: Json }>;
const of = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const container = of('AWS::ECS::TaskDefinition')[0]![1].Properties.ContainerDefinitions[0] as Json;
const [sgId, sg] = of('AWS::EC2::SecurityGroup')[0]!;

t.test('behind a load balancer: the API port is open to its security group only', async (t) => {
  t.equal(sg.Properties.SecurityGroupIngress, undefined, 'no CIDR rule');
  const ingress = of('AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
  t.same(ingress, [
    { Description: 'the load balancer to the pgshift API', FromPort: 8080, GroupId: { 'Fn::GetAtt': [sgId, 'GroupId'] }, IpProtocol: 'tcp', SourceSecurityGroupId: LB, ToPort: 8080 },
  ]);
  t.match(container.HealthCheck.Command[3], /127\.0\.0\.1:8080\/healthz/);
  t.same(container.Command, ['--host', '0.0.0.0', '--port', '8080']);
});

t.test('databases given by CIDR: egress to each on its port, nothing else but HTTPS', async (t) => {
  const rules = (sg.Properties.SecurityGroupEgress as Json[]).map((e) => [e.CidrIp, e.FromPort, e.ToPort]).sort();
  t.same(rules, [['0.0.0.0/0', 443, 443], ['10.1.0.0/24', 5432, 5432], ['10.1.1.0/24', 5433, 5433], ['10.1.2.0/24', 5432, 5432]]);
  t.same(of('AWS::EC2::SecurityGroupEgress'), []);
});

t.test('a variable from another secret, and the execution role may read both secrets', async (t) => {
  const secrets = Object.fromEntries((container.Secrets as { Name: string; ValueFrom: string }[]).map((s) => [s.Name, s.ValueFrom]));
  t.equal(secrets.PGSHIFT_BLUE_ADMIN_PASSWORD, `${RDS_SECRET}:password::`);
  t.equal(secrets.PGSHIFT_GREEN_ADMIN_PASSWORD, `${params.secretArn}:PGSHIFT_GREEN_ADMIN_PASSWORD::`);
  const statements = of('AWS::IAM::Policy').flatMap(([, r]) => r.Properties.PolicyDocument.Statement as Json[]);
  const readable = statements.filter((s) => ([] as string[]).concat(s.Action).includes('secretsmanager:GetSecretValue')).flatMap((s) => ([] as unknown[]).concat(s.Resource));
  t.same(new Set(readable), new Set([params.secretArn, RDS_SECRET]));
});

t.test('an image outside ECR: no registry permission, and no "*" resource in any policy', async (t) => {
  t.equal(container.Image, 'ghcr.io/example/pgshift:0.1.0');
  const text = JSON.stringify(Object.values(resources).filter((r) => r.Type.startsWith('AWS::IAM::')));
  t.notMatch(text, /"ecr:/);
  t.notMatch(text, /"Resource":"\*"|"Resource":\[[^\]]*"\*"/);
  t.equal(container.StopTimeout, 120);
});

t.test("clusters given without their parameter groups: preflight may read any group of the account and region, and no other's", async (t) => {
  const role = of('AWS::IAM::Role').find(([, r]) => JSON.stringify(r.Properties).includes('rds:DescribeDBClusterParameters'))![1];
  const statement = (role.Properties.Policies[0].PolicyDocument.Statement as Json[]).find((s) => s.Action === 'rds:DescribeDBClusterParameters');
  t.equal(statement?.Resource, 'arn:aws:rds:eu-west-1:123456789012:cluster-pg:*');
});

t.test('rehearsals: true adds their statements, every write and delete on the staging clusters pgshift-rehearsal-* only', async (t) => {
  const role = of('AWS::IAM::Role').find(([, r]) => JSON.stringify(r.Properties).includes('rds:DescribeDBClusterParameters'))![1];
  const statements = role.Properties.Policies[0].PolicyDocument.Statement as Json[];
  const rehearsal = statements.filter((s) => String(s.Sid).startsWith('Rehearsal'));
  t.same(rehearsal.map((s) => s.Sid), [
    'RehearsalFindsStagingClusters',
    'RehearsalRestoresBlueAsStagingBlue',
    'RehearsalCreatesStagingClusters',
    'RehearsalDeletesStagingClusters',
    'RehearsalListsStagingSnapshots',
    'RehearsalDeletesStagingSnapshots',
    'RehearsalChangesStagingRecords',
  ]);
  const rds = 'arn:aws:rds:eu-west-1:123456789012';
  const actions = (s: Json) => ([] as string[]).concat(s.Action);
  const resourcesOf = (s: Json) => ([] as string[]).concat(s.Resource);
  for (const s of rehearsal.filter((r) => !/Snapshots|Records/.test(r.Sid))) {
    const clusterOrDb = resourcesOf(s).filter((r) => /:(cluster|db):/.test(r));
    if (actions(s).some((a) => /Create|Delete|Restore|AddTags/.test(a))) {
      t.same(clusterOrDb.sort(), [`${rds}:cluster:pgshift-rehearsal-*`, `${rds}:db:pgshift-rehearsal-*`].filter((r) => s.Sid !== 'RehearsalRestoresBlueAsStagingBlue' || r.includes(':cluster:')), `${s.Sid}: staging clusters only`);
      t.notOk(resourcesOf(s).some((r) => r.includes('orders-pg1')), `${s.Sid}: never the pair's clusters`);
    }
  }
  t.same(actions(rehearsal[3]!), ['rds:DeleteDBInstance', 'rds:DeleteDBCluster']);
  // The staging clusters' cutover snapshots: listed by cluster, deleted by name, pgshift-rehearsal-* only.
  t.same(rehearsal[4], {
    Sid: 'RehearsalListsStagingSnapshots',
    Effect: 'Allow',
    Action: 'rds:DescribeDBClusterSnapshots',
    Resource: [`${rds}:cluster:pgshift-rehearsal-*`, `${rds}:cluster-snapshot:pgshift-rehearsal-*`],
  });
  t.same(rehearsal[5], { Sid: 'RehearsalDeletesStagingSnapshots', Effect: 'Allow', Action: 'rds:DeleteDBClusterSnapshot', Resource: `${rds}:cluster-snapshot:pgshift-rehearsal-*` });
  t.notOk(
    statements.some((s) => actions(s).includes('rds:DeleteDBClusterSnapshot') && resourcesOf(s).some((r) => !r.startsWith(`${rds}:cluster-snapshot:pgshift-rehearsal-`))),
    'no snapshot but a rehearsal\'s may be deleted',
  );
  // The staging pair's records: one label under each of the pair's names, CNAMEs created, moved and deleted.
  t.same(rehearsal[6], {
    Sid: 'RehearsalChangesStagingRecords',
    Effect: 'Allow',
    Action: 'route53:ChangeResourceRecordSets',
    Resource: 'arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ',
    Condition: {
      'ForAllValues:StringLike': {
        'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['pgshift-rehearsal-*.orders-ro.db.example.com', 'pgshift-rehearsal-*.orders.db.example.com'],
      },
      'ForAllValues:StringEquals': {
        'route53:ChangeResourceRecordSetsRecordTypes': 'CNAME',
        'route53:ChangeResourceRecordSetsActions': ['CREATE', 'UPSERT', 'DELETE'],
      },
    },
  });
  // The pattern covers exactly the names the rehearsal writes (stagingRecordNames), as IAM's StringLike matches them.
  const like = (pattern: string) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  const patterns = (rehearsal[6]!.Condition['ForAllValues:StringLike']['route53:ChangeResourceRecordSetsNormalizedRecordNames'] as string[]).map(like);
  const pair = { dns: { reader: { name: 'Orders-RO.db.example.com.' }, writer: { name: 'orders.db.example.com' } } } as Pick<PairConfig, 'dns'>;
  const names = stagingRecordNames(pair, 'r0a1b2c3d');
  for (const name of [names.reader, names.writer]) t.ok(patterns.some((p) => p.test(normalizeRecordName(name))), `${name} is allowed`);
  for (const name of ['orders.db.example.com', 'orders-ro.db.example.com', 'other.db.example.com', 'pgshift-rehearsal-r1.other.db.example.com', 'pgshift-rehearsalx.orders.db.example.com']) {
    t.notOk(patterns.some((p) => p.test(name)), `${name} is not`);
  }
});

t.test('without rehearsals: true, none of their permissions', async (t) => {
  const plain = Template.fromStack(new PgshiftStack(new App(), 'Plain', parseDeployParameters(JSON.parse(readFileSync(join(ROOT, 'deploy', 'parameters.example.json'), 'utf8'))))).toJSON();
  t.notMatch(JSON.stringify(plain), /RestoreDBClusterFromSnapshot|DeleteDBCluster|pgshift-rehearsal/);
});
