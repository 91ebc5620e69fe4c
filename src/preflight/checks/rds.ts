import type { RdsClusterFacts, RdsParameter } from '../../clusters/catalog.js';
import * as D from '../../defaults.js';
import type { CheckContext, CheckDefinition, FindingDraft } from '../check.js';

/**
 * What only RDS knows, read from its own descriptions (DescribeDBClusters,
 * DescribeDBInstances, DescribeDBClusterParameters) rather than from SQL: green's
 * capacity against blue's, logical replication in both cluster parameter groups (a
 * change there needs a reboot before the server sees it), and the parameters whose
 * differing values would make green behave otherwise than blue. Every finding says
 * the AWS CLI command that fixes it.
 */

const LOGICAL_REPLICATION = 'rds.logical_replication';

/** What a side needs of each replication parameter, whichever way replication runs (blue -> green now, green -> blue after cutover). */
const REPLICATION_MINIMUMS: readonly { name: string; need: (databases: number) => number; why: string }[] = [
  { name: 'max_replication_slots', need: (n) => n, why: 'one slot per database on the sending side' },
  { name: 'max_wal_senders', need: (n) => n, why: "one WAL sender per database's subscription" },
  { name: 'max_logical_replication_workers', need: (n) => n, why: 'one apply worker per database on the receiving side' },
  { name: 'max_worker_processes', need: (n) => n + 1, why: 'the apply workers and their launcher' },
];

/** The AWS CLI's --parameters for one parameter: shorthand when the value allows it, JSON otherwise. */
function parametersArg(name: string, value: string | null, applyMethod: string): string {
  if (value !== null && /[\s,="'[\]{}]/.test(value)) {
    return `--parameters '${JSON.stringify([{ ParameterName: name, ParameterValue: value, ApplyMethod: applyMethod }]).replace(/'/g, "'\\''")}'`;
  }
  return `--parameters "ParameterName=${name},${value === null ? '' : `ParameterValue=${value},`}ApplyMethod=${applyMethod}"`;
}

function isDefaultGroup(group: string): boolean {
  return group.startsWith('default.');
}

function applyMethodOf(p: RdsParameter | undefined): 'immediate' | 'pending-reboot' {
  return p?.applyType === 'dynamic' ? 'immediate' : 'pending-reboot';
}

function rebootCommands(facts: RdsClusterFacts): string[] {
  return facts.instances.map((i) => `aws rds reboot-db-instance --db-instance-identifier ${i.id}`);
}

/**
 * The commands that give `facts`' cluster `value` for `name` (null: the engine default
 * back), then the reboots a static parameter needs. RDS's default groups cannot be
 * changed: a custom group of the same family is made and attached first.
 */
function setParameterCommands(facts: RdsClusterFacts, name: string, value: string | null): string[] {
  const param = facts.parameters[name];
  const method = applyMethodOf(param);
  const commands: string[] = [];
  let group = facts.parameterGroup;
  if (isDefaultGroup(group)) {
    const family = group.slice('default.'.length);
    group = `${facts.clusterId}-pgshift`;
    commands.push(
      `aws rds create-db-cluster-parameter-group --db-cluster-parameter-group-name ${group} --db-parameter-group-family ${family} --description "${facts.clusterId}: logical replication for pgshift"`,
      `aws rds modify-db-cluster --db-cluster-identifier ${facts.clusterId} --db-cluster-parameter-group-name ${group} --apply-immediately`,
    );
  }
  commands.push(
    value === null
      ? `aws rds reset-db-cluster-parameter-group --db-cluster-parameter-group-name ${group} ${parametersArg(name, null, method)}`
      : `aws rds modify-db-cluster-parameter-group --db-cluster-parameter-group-name ${group} ${parametersArg(name, value, method)}`,
  );
  // A new group is only read at a reboot, whatever its parameters' apply types.
  if (method === 'pending-reboot' || group !== facts.parameterGroup) commands.push(...rebootCommands(facts));
  return commands;
}

function shown(value: string | null): string {
  return value === null ? '(engine default, unset)' : value;
}

export const rdsLogicalReplicationCheck: CheckDefinition = {
  id: 'rds-logical-replication',
  title: 'logical replication in the DB cluster parameter groups',
  scope: 'aws',
  sides: ['blue', 'green'],
  eachSide: true,
  async run(ctx) {
    const findings: FindingDraft[] = [];
    const databases = ctx.pair.databases.length;
    for (const side of ctx.aws.sides) {
      const facts = await ctx.aws.facts(side);
      const group = facts.parameterGroup;
      const logical = facts.parameters[LOGICAL_REPLICATION]?.value ?? null;
      if (logical !== '1') {
        const purpose =
          side === 'blue'
            ? 'blue cannot publish to green, so the upgrade cannot start'
            : 'green cannot send its writes back to blue after cutover, so the lossless way back cannot be set up';
        findings.push({
          severity: 'blocker',
          database: null,
          object: `parameter ${side}.${LOGICAL_REPLICATION}`,
          message: `${side} cluster ${facts.clusterId}: its DB cluster parameter group ${group} has ${LOGICAL_REPLICATION} = ${shown(logical)}: ${purpose}. The parameter is static: each instance needs a reboot after the change.`,
          remediation: setParameterCommands(facts, LOGICAL_REPLICATION, '1').join('\n'),
        });
      }
      for (const minimum of REPLICATION_MINIMUMS) {
        const raw = facts.parameters[minimum.name]?.value ?? null;
        // A formula (`GREATEST({DBInstanceClassMemory/...},...)`) is sized per instance class; the SQL check reads what it came to.
        if (raw === null || !/^\d+$/.test(raw)) continue;
        const need = minimum.need(databases);
        if (Number(raw) >= need) continue;
        findings.push({
          severity: 'blocker',
          database: null,
          object: `parameter ${side}.${minimum.name}`,
          message: `${side} cluster ${facts.clusterId}: ${group} sets ${minimum.name} = ${raw}, pgshift needs at least ${need} for ${databases} database(s) (${minimum.why}).`,
          remediation: setParameterCommands(facts, minimum.name, String(need + databases)).join('\n'),
        });
      }
      const pending = facts.instances.filter((i) => i.parameterGroupStatus === 'pending-reboot');
      if (pending.length > 0) {
        const set = [LOGICAL_REPLICATION, ...REPLICATION_MINIMUMS.map((m) => m.name)].filter((name) => facts.parameters[name]?.source === 'user');
        findings.push({
          severity: 'warning',
          database: null,
          object: `instances ${side}.${pending.map((i) => i.id).join(',')}`,
          message: `${side} cluster ${facts.clusterId}: ${pending.map((i) => i.id).join(', ')} ${pending.length > 1 ? 'have' : 'has'} changes of ${group} waiting for a reboot (DBClusterParameterGroupStatus pending-reboot)${set.length > 0 ? `; until then the server may not run with what the group sets for ${set.join(', ')}` : ''}.`,
          remediation: pending.map((i) => `aws rds reboot-db-instance --db-instance-identifier ${i.id}`).join('\n'),
        });
      }
    }
    return findings;
  },
};

/** Memory of a provisioned Aurora instance class, in GiB; null when the class is not one pgshift knows how to size. */
export function instanceClassGib(instanceClass: string): number | null {
  const match = /^db\.([a-z0-9-]+)\.(\d*)(micro|small|medium|large|xlarge)$/.exec(instanceClass);
  if (!match) return null;
  const [, family, times, size] = match as unknown as [string, string, string, string];
  if (/^t\d/.test(family)) return { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16 }[size] ?? null;
  const vcpus = size === 'large' ? 2 : size === 'xlarge' ? 4 * (times === '' ? 1 : Number(times)) : null;
  if (vcpus === null) return null;
  // Memory-optimised classes (r5, r6g, r6i, r7g, r8g) carry 8 GiB per vCPU, x2g 16, general-purpose (m) 4.
  const perVcpu = /^x\d/.test(family) ? 16 : /^r\d/.test(family) ? 8 : /^m\d/.test(family) ? 4 : null;
  return perVcpu === null ? null : vcpus * perVcpu;
}

interface SideCapacity {
  facts: RdsClusterFacts;
  /** Memory of the writer (provisioned) or of the ACU ceiling (Serverless v2), in GiB; null when unknown. */
  gib: number | null;
  label: string;
}

function capacityOf(facts: RdsClusterFacts): SideCapacity {
  const writer = facts.instances.find((i) => i.writer) ?? facts.instances[0];
  if (facts.serverless && (!writer || writer.instanceClass === 'db.serverless')) {
    const { minCapacity, maxCapacity } = facts.serverless;
    return { facts, gib: maxCapacity * D.GIB_PER_ACU, label: `Serverless v2 ${minCapacity}-${maxCapacity} ACU` };
  }
  if (!writer) return { facts, gib: null, label: 'no instance' };
  return { facts, gib: instanceClassGib(writer.instanceClass), label: `writer ${writer.id} ${writer.instanceClass}` };
}

/** The smallest Graviton memory-optimised class with at least `gib` of memory. */
function classFor(gib: number): string {
  for (const [size, memory] of [['large', 16], ['xlarge', 32], ['2xlarge', 64], ['4xlarge', 128], ['8xlarge', 256], ['12xlarge', 384], ['16xlarge', 512]] as const) {
    if (memory >= gib) return `db.r6g.${size}`;
  }
  return 'db.r6g.16xlarge';
}

function halfSteps(acu: number): number {
  return Math.ceil(acu * 2) / 2;
}

export const rdsCapacityCheck: CheckDefinition = {
  id: 'rds-capacity',
  title: "green's capacity at least blue's",
  scope: 'aws',
  sides: ['blue', 'green'],
  async run(ctx) {
    const [blue, green] = await Promise.all([ctx.aws.facts('blue').then(capacityOf), ctx.aws.facts('green').then(capacityOf)]);
    const findings: FindingDraft[] = [];
    const g = green.facts;
    if (blue.gib === null || green.gib === null) {
      findings.push({
        severity: 'info',
        database: null,
        object: `cluster ${g.clusterId}`,
        message: `cannot compare capacity: blue has ${blue.label}, green ${green.label}; compare them by hand.`,
        remediation: 'Nothing pgshift can check: make sure green can carry blue\'s load before shifting reads to it.',
      });
    } else if (green.gib < blue.gib) {
      const share = green.gib / blue.gib;
      const clearly = share < D.PREFLIGHT_UNDERSIZED_SHARE;
      let remediation: string;
      if (g.serverless) {
        const max = Math.max(g.serverless.maxCapacity, halfSteps(blue.gib / D.GIB_PER_ACU));
        const min = Math.max(g.serverless.minCapacity, blue.facts.serverless?.minCapacity ?? 0);
        remediation = `aws rds modify-db-cluster --db-cluster-identifier ${g.clusterId} --serverless-v2-scaling-configuration MinCapacity=${min},MaxCapacity=${max} --apply-immediately`;
      } else {
        const writer = g.instances.find((i) => i.writer) ?? g.instances[0]!;
        const blueWriter = blue.facts.instances.find((i) => i.writer);
        const target = blueWriter && !blue.facts.serverless ? blueWriter.instanceClass : classFor(blue.gib);
        remediation = `aws rds modify-db-instance --db-instance-identifier ${writer.id} --db-instance-class ${target} --apply-immediately`;
      }
      findings.push({
        severity: clearly ? 'blocker' : 'warning',
        database: null,
        object: `cluster ${g.clusterId}`,
        message: `green has ${green.label} (about ${green.gib} GiB) against blue's ${blue.label} (about ${blue.gib} GiB): ${Math.round(share * 100)} % of blue's capacity${clearly ? `, under ${D.PREFLIGHT_UNDERSIZED_SHARE * 100} %: it cannot be expected to carry blue's load once reads and writes move` : '; it may fall behind as reads move to it'}.`,
        remediation,
      });
    }
    const bs = blue.facts.serverless;
    const gs = g.serverless;
    if (bs && gs && gs.minCapacity < bs.minCapacity) {
      findings.push({
        severity: 'warning',
        database: null,
        object: `cluster ${g.clusterId} minimum capacity`,
        message: `green scales from ${gs.minCapacity} ACU, blue from ${bs.minCapacity}: when reads move, green starts smaller and scales up under the load it just received.`,
        remediation: `aws rds modify-db-cluster --db-cluster-identifier ${g.clusterId} --serverless-v2-scaling-configuration MinCapacity=${bs.minCapacity},MaxCapacity=${Math.max(gs.maxCapacity, bs.minCapacity)} --apply-immediately`,
      });
    }
    const readers = (f: RdsClusterFacts) => f.instances.filter((i) => !i.writer);
    const missing = readers(blue.facts).length - readers(g).length;
    if (missing > 0) {
      const cls = gs ? 'db.serverless' : (g.instances.find((i) => i.writer)?.instanceClass ?? 'db.r6g.large');
      findings.push({
        severity: 'warning',
        database: null,
        object: `cluster ${g.clusterId} readers`,
        message: `green has ${readers(g).length} reader instance(s), blue ${readers(blue.facts).length}: green's reader endpoint will serve the shifted reads with fewer instances.`,
        remediation: Array.from(
          { length: missing },
          (_, i) => `aws rds create-db-instance --db-instance-identifier ${g.clusterId}-reader-${readers(g).length + i + 1} --db-cluster-identifier ${g.clusterId} --engine aurora-postgresql --db-instance-class ${cls}`,
        ).join('\n'),
      });
    }
    return findings;
  },
};

export const rdsParameterDifferencesCheck: CheckDefinition = {
  id: 'rds-parameter-differences',
  title: 'parameters that change behaviour match between the groups',
  scope: 'aws',
  sides: ['blue', 'green'],
  async run(ctx: CheckContext) {
    const [blue, green] = await Promise.all([ctx.aws.facts('blue'), ctx.aws.facts('green')]);
    const findings: FindingDraft[] = [];
    for (const name of D.PREFLIGHT_BEHAVIOUR_PARAMETERS) {
      const b = blue.parameters[name]?.value ?? null;
      const g = green.parameters[name]?.value ?? null;
      if (b === g) continue;
      findings.push({
        severity: 'warning',
        database: null,
        object: `parameter ${name}`,
        message: `${name} differs: blue's ${blue.parameterGroup} has ${shown(b)}, green's ${green.parameterGroup} ${shown(g)}; the application would see green behave otherwise once traffic moves.`,
        remediation: setParameterCommands(green, name, b).join('\n'),
      });
    }
    return findings;
  },
};
