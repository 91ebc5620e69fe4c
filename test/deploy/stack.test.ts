import t from 'tap';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadDeployParameters, SECRET_VARIABLES } from '../../deploy/parameters.js';
import { normalizeRecordName } from '../../deploy/policy.js';
import { PgshiftStack } from '../../deploy/stack.js';
import { ROOT } from '../helpers/process.js';

type Json = Record<string, any>;

// One synthesis for the whole file: it takes seconds.
const params = loadDeployParameters(join(ROOT, 'deploy', 'parameters.example.json'));
const template = Template.fromStack(new PgshiftStack(new App(), 'Pgshift', params));
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Json }>;

function only(type: string): [string, Json] {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type);
  if (found.length !== 1) throw new Error(`${found.length} resources of type ${type}, expected one`);
  return [found[0]![0], found[0]![1].Properties];
}

function taskRole(): Json {
  const [id] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.Policies?.[0]?.PolicyName === 'pgshift')!;
  return resources[id]!.Properties;
}

const [, taskDefinition] = only('AWS::ECS::TaskDefinition');
const container = taskDefinition.ContainerDefinitions[0] as Json;

const rds = 'arn:aws:rds:eu-west-1:123456789012';
const zone = 'arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ';
const clusters = [`${rds}:cluster:orders-pg13`, `${rds}:cluster:orders-pg14`];

t.test('the task role may do exactly what pgshift does on Route 53 and RDS, on its own resources', async (t) => {
  const role = taskRole();
  t.same(role.AssumeRolePolicyDocument.Statement, [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' } }]);
  t.equal(role.ManagedPolicyArns, undefined, 'no managed policy on top');
  t.equal(role.Policies.length, 1, 'one inline policy');
  t.same(role.Policies[0].PolicyDocument, {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'ShiftWeightsOfThePairsRecords',
        Effect: 'Allow',
        Action: 'route53:ChangeResourceRecordSets',
        Resource: zone,
        Condition: {
          'ForAllValues:StringEquals': {
            'route53:ChangeResourceRecordSetsNormalizedRecordNames': ['orders-ro.db.example.com', 'orders.db.example.com'],
            'route53:ChangeResourceRecordSetsRecordTypes': 'CNAME',
            'route53:ChangeResourceRecordSetsActions': 'UPSERT',
          },
        },
      },
      { Sid: 'WaitForChangesInsync', Effect: 'Allow', Action: 'route53:GetChange', Resource: 'arn:aws:route53:::change/*' },
      { Sid: 'ReadTheZonesRecords', Effect: 'Allow', Action: 'route53:ListResourceRecordSets', Resource: zone },
      { Sid: 'DescribeTheClusters', Effect: 'Allow', Action: 'rds:DescribeDBClusters', Resource: clusters },
      { Sid: 'DescribeTheirSnapshots', Effect: 'Allow', Action: 'rds:DescribeDBClusterSnapshots', Resource: [...clusters, `${rds}:cluster-snapshot:pgshift-*`] },
      { Sid: 'PreflightSizesTheInstances', Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: `${rds}:db:*` },
      {
        Sid: 'PreflightReadsTheParameterGroups',
        Effect: 'Allow',
        Action: 'rds:DescribeDBClusterParameters',
        Resource: [`${rds}:cluster-pg:orders-pg13-logical`, `${rds}:cluster-pg:orders-pg14-logical`],
      },
      {
        Sid: 'SnapshotBeforeCutover',
        Effect: 'Allow',
        Action: ['rds:CreateDBClusterSnapshot', 'rds:AddTagsToResource'],
        Resource: [...clusters, `${rds}:cluster-snapshot:pgshift-*`],
      },
    ],
  });
});

t.test('deploy/iam-policy.json is the policy the stack synthesizes for the example parameters', async (t) => {
  const file = JSON.parse(await readFile(join(ROOT, 'deploy', 'iam-policy.json'), 'utf8'));
  t.same(file, taskRole().Policies[0].PolicyDocument, 'run `npm run deploy:policy` after changing deploy/policy.ts');
  t.same(taskRole().Policies[0].PolicyDocument, file, 'and nothing in the template that the file lacks');
});

t.test('no IAM policy grants anything on every resource, but the ECR login of the execution role', async (t) => {
  const wildcards: string[] = [];
  const visit = (owner: string, document: Json) => {
    for (const statement of document.Statement as Json[]) {
      const list = ([] as unknown[]).concat(statement.Resource ?? []);
      if (list.some((r) => r === '*')) wildcards.push(`${owner}: ${([] as string[]).concat(statement.Action).join(',')}`);
      t.equal(statement.NotResource, undefined, `${owner}: no NotResource`);
      t.equal(statement.NotAction, undefined, `${owner}: no NotAction`);
    }
  };
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Policy') visit(id, r.Properties.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role') for (const p of r.Properties.Policies ?? []) visit(`${id}/${p.PolicyName}`, p.PolicyDocument);
  }
  const execution = Object.entries(resources).find(([, r]) => r.Type === 'AWS::IAM::Policy')![0];
  // GetAuthorizationToken takes no resource but "*": it logs the registry in, it reads no image.
  t.same(wildcards, [`${execution}: ecr:GetAuthorizationToken`]);
  t.notMatch(JSON.stringify(taskRole()), /"Resource":"\*"|"\*"/, 'the task role names no "*" resource at all');
});

t.test('the container runs as node (uid 1000), on a read-only root with a writable /tmp', async (t) => {
  t.equal(container.User, '1000:1000');
  t.not(container.User.split(':')[0], '0');
  t.equal(container.ReadonlyRootFilesystem, true);
  t.same(container.MountPoints, [{ ContainerPath: '/tmp', ReadOnly: false, SourceVolume: 'tmp' }]);
  t.same(taskDefinition.Volumes, [{ Name: 'tmp' }], 'task storage, no host path');
  t.equal(container.Privileged, undefined);
});

t.test('ECS checks /healthz with node (the image has no curl) and gives a graceful stop its time', async (t) => {
  const check = container.HealthCheck as Json;
  t.same(check.Command.slice(0, 3), ['CMD', 'node', '-e']);
  t.match(check.Command[3], /fetch\('http:\/\/127\.0\.0\.1:7070\/healthz'\)/);
  t.ok(check.StartPeriod >= 30 && check.Interval > 0 && check.Retries > 0);
  t.equal(container.StopTimeout, 60);
  t.ok(container.StopTimeout <= 120, 'within what Fargate allows');
  t.same(container.Command, ['--host', '0.0.0.0', '--port', '7070'], 'listens on the port the check and the security group use');
  t.same(container.PortMappings, [{ ContainerPort: 7070, Protocol: 'tcp' }]);
  t.equal(container.LogConfiguration.LogDriver, 'awslogs');
  t.equal(only('AWS::Logs::LogGroup')[1].RetentionInDays, 30);
});

t.test('every secret config/aws.example.yaml reads comes from Secrets Manager, under its own name', async (t) => {
  const text = await readFile(join(ROOT, 'config', 'aws.example.yaml'), 'utf8');
  const used = new Set(
    text
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .flatMap((line) => [...line.matchAll(/\$\{(PGSHIFT_[A-Z0-9_]+)\}/g)].map((m) => m[1]!)),
  );
  t.ok(used.size >= 7, `${used.size} variables in the example config`);
  t.same([...SECRET_VARIABLES].sort(), [...used].sort(), 'the deploy kit wires exactly the variables the config reads');
  const secrets = container.Secrets as { Name: string; ValueFrom: string }[];
  t.same(secrets.map((s) => s.Name).sort(), [...used].sort());
  for (const s of secrets) t.equal(s.ValueFrom, `${params.secretArn}:${s.Name}::`, `${s.Name} is the field of that name in the secret`);
  t.notOk((container.Environment as { Name: string }[]).some((e) => used.has(e.Name)), 'no secret as a plain variable');
});

t.test('the tasks get the API port from the allowed CIDR only, and reach the databases and HTTPS', async (t) => {
  const [sgId, sg] = only('AWS::EC2::SecurityGroup');
  t.same(sg.SecurityGroupIngress, [{ CidrIp: '10.20.0.0/16', Description: 'callers of the pgshift API', FromPort: 7070, IpProtocol: 'tcp', ToPort: 7070 }]);
  t.same(sg.SecurityGroupEgress, [{ CidrIp: '0.0.0.0/0', Description: 'AWS APIs over HTTPS', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 }]);
  const egress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupEgress').map((r) => r.Properties);
  t.same(
    egress.map((e) => [e.DestinationSecurityGroupId, e.FromPort, e.ToPort]).sort(),
    [['sg-0123456789abcdef0', 5432, 5432], ['sg-0123456789abcdef1', 5432, 5432], ['sg-0123456789abcdef2', 5432, 5432]],
  );
  for (const e of egress) t.same(e.GroupId, { 'Fn::GetAtt': [sgId, 'GroupId'] });
  const ingress = Object.values(resources).filter((r) => r.Type === 'AWS::EC2::SecurityGroupIngress').map((r) => r.Properties);
  t.same(ingress.map((i) => i.GroupId).sort(), ['sg-0123456789abcdef0', 'sg-0123456789abcdef1', 'sg-0123456789abcdef2'], 'the databases admit the tasks');
  for (const i of ingress) t.same(i.SourceSecurityGroupId, { 'Fn::GetAtt': [sgId, 'GroupId'] });
});

t.test('a Fargate service of two tasks, leader and standby, in the private subnets', async (t) => {
  const [, service] = only('AWS::ECS::Service');
  t.equal(service.LaunchType, 'FARGATE');
  t.equal(service.DesiredCount, 2);
  t.equal(service.DeploymentConfiguration.MinimumHealthyPercent, 100);
  t.same(service.NetworkConfiguration.AwsvpcConfiguration.Subnets, params.subnetIds);
  t.equal(service.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
});

t.test('record names are written as Route 53 normalizes them in the condition key', async (t) => {
  t.equal(normalizeRecordName('Orders.DB.Example.com.'), 'orders.db.example.com');
  t.equal(normalizeRecordName('*.db.example.com'), '\\052.db.example.com');
  t.equal(normalizeRecordName('a_b-c.example.com'), 'a_b-c.example.com');
});
