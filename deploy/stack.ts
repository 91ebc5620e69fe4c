import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { SECRET_VARIABLES, type DeployParameters } from './parameters.js';
import { taskRolePolicy } from './policy.js';

const DEFAULTS = {
  apiPort: 7070,
  databasePort: 5432,
  cpu: 512,
  memoryMiB: 1024,
  // Long enough for the leader to finish a cutover step (writes stay frozen at most
  // maxFreezeSeconds, 5 s by default) and hand the lease over; Fargate allows 120 s.
  stopTimeoutSeconds: 60,
  logRetentionDays: 30,
} as const;

/** The image's user `node`: nothing in the task runs as root. */
const CONTAINER_USER = '1000:1000';
const CONFIG_PATH = '/app/config/pgshift.yaml';

const HEALTH_URL = (port: number) => `http://127.0.0.1:${port}/healthz`;

/**
 * pgshift on ECS Fargate: two tasks of one service, leader and standby (they elect the
 * leader through the state database's lease), in private subnets, reaching the two
 * clusters, the state database and AWS's HTTPS endpoints, and reachable on the API port
 * only from the configured CIDR or load balancer.
 */
export class PgshiftStack extends Stack {
  readonly taskRole: iam.Role;
  readonly service: ecs.FargateService;

  constructor(scope: Construct, id: string, params: DeployParameters, props: StackProps = {}) {
    super(scope, id, { ...props, env: { account: params.account, region: params.region } });
    const apiPort = params.apiPort ?? DEFAULTS.apiPort;

    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: params.vpcId,
      availabilityZones: params.availabilityZones,
      privateSubnetIds: params.subnetIds,
    });

    const tasks = new ec2.SecurityGroup(this, 'TasksSecurityGroup', {
      vpc,
      description: 'pgshift tasks: the API port in, the databases and HTTPS out',
      allowAllOutbound: false,
    });
    const databases = [
      ['Blue', params.clusters.blue],
      ['Green', params.clusters.green],
      ['State', params.stateDatabase],
    ] as const;
    for (const [name, db] of databases) {
      const port = ec2.Port.tcp(db.port ?? DEFAULTS.databasePort);
      if (db.securityGroupId !== undefined) {
        // Also adds the matching ingress rule to the database's group, so the tasks get in.
        const peer = ec2.SecurityGroup.fromSecurityGroupId(this, `${name}DatabaseSecurityGroup`, db.securityGroupId);
        tasks.connections.allowTo(peer, port, `pgshift to the ${name.toLowerCase()} database`);
      } else {
        tasks.addEgressRule(ec2.Peer.ipv4(db.cidr!), port, `pgshift to the ${name.toLowerCase()} database`);
      }
    }
    // Route 53, RDS, Secrets Manager, CloudWatch Logs and ECR answer on HTTPS (or their VPC endpoints).
    tasks.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'AWS APIs over HTTPS');
    if (params.loadBalancerSecurityGroupId !== undefined) {
      const lb = ec2.SecurityGroup.fromSecurityGroupId(this, 'LoadBalancerSecurityGroup', params.loadBalancerSecurityGroupId);
      tasks.connections.allowFrom(lb, ec2.Port.tcp(apiPort), 'the load balancer to the pgshift API');
    } else {
      tasks.addIngressRule(ec2.Peer.ipv4(params.allowedCidr!), ec2.Port.tcp(apiPort), 'callers of the pgshift API');
    }

    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
      description: 'pgshift: shift the weights of its records, describe and snapshot its two clusters',
      inlinePolicies: { pgshift: iam.PolicyDocument.fromJson(taskRolePolicy(params)) },
    });

    const taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: params.cpu ?? DEFAULTS.cpu,
      memoryLimitMiB: params.memoryMiB ?? DEFAULTS.memoryMiB,
      taskRole: this.taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      // Task storage without a host path: writable, private to the task, gone with it.
      volumes: [{ name: 'tmp' }],
    });

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: params.logRetentionDays ?? DEFAULTS.logRetentionDays,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const container = taskDefinition.addContainer('pgshift', {
      image: ecs.ContainerImage.fromRegistry(params.image),
      user: CONTAINER_USER,
      readonlyRootFilesystem: true,
      portMappings: [{ containerPort: apiPort, protocol: ecs.Protocol.TCP }],
      // Both tasks listen on every interface of their own network namespace (awsvpc).
      command: ['--host', '0.0.0.0', '--port', String(apiPort)],
      environment: { PGSHIFT_CONFIG: CONFIG_PATH, NODE_ENV: 'production' },
      secrets: this.secrets(params),
      // ECS watches only the task definition's check, not the image's HEALTHCHECK; the
      // image has no curl, so node asks, as the Dockerfile's check does.
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('${HEALTH_URL(apiPort)}').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(60),
      },
      stopTimeout: Duration.seconds(params.stopTimeoutSeconds ?? DEFAULTS.stopTimeoutSeconds),
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: 'pgshift' }),
    });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    this.grantImagePull(taskDefinition, params.image);

    const cluster = new ecs.Cluster(this, 'Cluster', { vpc });
    this.service = new ecs.FargateService(this, 'Service', {
      cluster,
      taskDefinition,
      // Leader and standby: the standby takes over when the leader's lease lapses.
      desiredCount: 2,
      // A deployment starts the new pair before stopping the old one, so a leader is always there.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      securityGroups: [tasks],
      vpcSubnets: { subnets: params.subnetIds.map((id, i) => ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, { subnetId: id, availabilityZone: params.availabilityZones[i]! })) },
      assignPublicIp: false,
    });
  }

  private secrets(params: DeployParameters): Record<string, ecs.Secret> {
    const shared = secretsmanager.Secret.fromSecretCompleteArn(this, 'Secret', params.secretArn);
    const imported = new Map<string, secretsmanager.ISecret>([[params.secretArn, shared]]);
    const out: Record<string, ecs.Secret> = {};
    for (const name of SECRET_VARIABLES) {
      const override = params.secretOverrides?.[name];
      if (!override) {
        out[name] = ecs.Secret.fromSecretsManager(shared, name);
        continue;
      }
      let secret = imported.get(override.secretArn);
      if (!secret) {
        secret = secretsmanager.Secret.fromSecretCompleteArn(this, `Secret${imported.size}`, override.secretArn);
        imported.set(override.secretArn, secret);
      }
      out[name] = ecs.Secret.fromSecretsManager(secret, override.jsonField);
    }
    return out;
  }

  /**
   * An image in the account's ECR: the execution role may pull from that repository only.
   * ecr:GetAuthorizationToken (the registry login) takes no resource but "*": the one
   * statement with it, on the execution role, never on the task role.
   */
  private grantImagePull(taskDefinition: ecs.FargateTaskDefinition, image: string): void {
    const ecr = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com\/([^:@]+)/.exec(image);
    if (!ecr) return;
    const [, account, region, repository] = ecr;
    const role = taskDefinition.obtainExecutionRole();
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [`arn:aws:ecr:${region}:${account}:repository/${repository}`],
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
  }
}
