import t, { type Test } from 'tap';
import { RdsClusters } from '../../src/clusters/rds-clusters.js';
import type { Lab } from '../../src/local/lab.js';
import { rdsCapacityCheck, rdsLogicalReplicationCheck, rdsParameterDifferencesCheck, instanceClassGib } from '../../src/preflight/checks/rds.js';
import type { Finding, PreflightReport } from '../../src/preflight/report.js';
import { runPreflight } from '../../src/preflight/run.js';
import type { PreflightTargets } from '../../src/preflight/targets.js';
import { awsCli, findAwsCli } from '../helpers/aws-cli.js';
import { startTestLab, testLogger } from '../helpers/lab.js';
import { demoPair, labPreflightTargets } from './lab-preflight.js';
import { standInRds } from '../helpers/rds.js';

/**
 * The preflight checks that read RDS's own descriptions, run through the real SDK
 * against the lab's RDS stand-in, each condition made with the stand-in's lab
 * settings; the AWS CLI commands the findings give are run against the stand-in too,
 * and the finding is gone afterwards.
 */

const RDS_CHECKS = [rdsLogicalReplicationCheck, rdsCapacityCheck, rdsParameterDifferencesCheck];

t.test('instance classes are sized by family and size', async (t) => {
  t.equal(instanceClassGib('db.r6g.large'), 16);
  t.equal(instanceClassGib('db.r7g.2xlarge'), 64);
  t.equal(instanceClassGib('db.r5.xlarge'), 32);
  t.equal(instanceClassGib('db.x2g.large'), 32);
  t.equal(instanceClassGib('db.t4g.medium'), 4);
  t.equal(instanceClassGib('db.serverless'), null);
  t.equal(instanceClassGib('db.z9.large'), null);
});

/** Splits a remediation line as a POSIX shell would ("..." and '...' words). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'((?:[^']|'\\'')*)'|"([^"]*)"|(\S+)/g;
  let current = '';
  let last = 0;
  for (const match of line.matchAll(pattern)) {
    if (match.index! > last && current !== '') {
      words.push(current);
      current = '';
    }
    current += match[1] !== undefined ? match[1].replace(/'\\''/g, "'") : (match[2] ?? match[3]!);
    last = match.index! + match[0].length;
    if (line[last] === undefined || /\s/.test(line[last]!)) {
      words.push(current);
      current = '';
    }
  }
  return words;
}

t.test('preflight from RDS against the stand-in', async (t) => {
  const lab: Lab = await startTestLab(t);
  const standIn = lab.rds!;
  const client = standInRds(standIn.url);
  t.teardown(() => client.destroy());
  const catalog = new RdsClusters({ client, clusterIds: { blue: 'demo-blue', green: 'demo-green' } });
  const targets: PreflightTargets = { ...labPreflightTargets(lab), aws: { sides: ['blue', 'green'], facts: (side) => catalog.rdsFacts(side) } };
  const run = (overrides: Parameters<typeof demoPair>[1] = {}, withTargets = targets): Promise<PreflightReport> =>
    runPreflight({ pair: demoPair(lab, overrides), targets: withTargets, checks: RDS_CHECKS, log: testLogger() });
  const of = (report: PreflightReport, check: string): Finding[] => report.findings.filter((f) => f.check === check);
  const cliPath = findAwsCli();
  /** Runs every `aws ...` line of a remediation through the AWS CLI against the stand-in. */
  const apply = async (t: Test, remediation: string) => {
    if (!cliPath) {
      t.fail("no AWS CLI found: install it (CI installs Debian's awscli at /usr/bin/aws) or put `aws` on PATH");
      return;
    }
    const cli = awsCli(cliPath, standIn.url);
    for (const line of remediation.split('\n')) {
      const [aws, ...args] = shellWords(line);
      t.equal(aws, 'aws', `a CLI command: ${line}`);
      const out = await cli.run(args);
      t.equal(out.code, 0, `${line}: ${out.stderr}`);
    }
  };
  const reset = async () => {
    for (const id of ['demo-blue', 'demo-green']) {
      await standIn.lab.configureCluster(id, { serverless: null, instanceClass: null });
      for (const name of ['rds.logical_replication', 'max_replication_slots', 'work_mem', 'statement_timeout']) {
        await standIn.lab.setClusterParameter(id, name, name === 'rds.logical_replication' ? '1' : undefined, { reboot: true });
      }
    }
  };

  await t.test('the lab as it starts: every check passes', async (t) => {
    const report = await run();
    t.same(
      report.checks.map((c) => [c.check, c.outcome]),
      RDS_CHECKS.map((c) => [c.id, 'passed']),
    );
    t.same(report.findings, []);
  });

  await t.test('host and port clusters: the checks do not apply, and say why', async (t) => {
    const report = await run({}, labPreflightTargets(lab));
    t.same(report.checks.map((c) => c.outcome), ['not-applicable', 'not-applicable', 'not-applicable']);
    t.match(report.checks[0]!.reason, /blue and green are not RDS clusters/);
    const halfway = await run({}, { ...targets, aws: { sides: ['blue'], facts: (side) => catalog.rdsFacts(side) } });
    t.same(
      halfway.checks.map((c) => [c.check, c.outcome]),
      [['rds-logical-replication', 'passed'], ['rds-capacity', 'not-applicable'], ['rds-parameter-differences', 'not-applicable']],
      'a check of each side on its own still runs on the RDS side',
    );
  });

  await t.test('logical replication off in blue\'s group: a blocker, fixed by the commands it gives', async (t) => {
    t.teardown(reset);
    await standIn.lab.setClusterParameter('demo-blue', 'rds.logical_replication', '0', { reboot: true });
    const [finding, ...rest] = of(await run(), 'rds-logical-replication');
    t.same(rest, []);
    t.match(finding, {
      severity: 'blocker',
      object: 'parameter blue.rds.logical_replication',
      message: /demo-blue-params has rds\.logical_replication = 0: blue cannot publish to green/,
    });
    t.equal(
      finding!.remediation,
      [
        'aws rds modify-db-cluster-parameter-group --db-cluster-parameter-group-name demo-blue-params --parameters "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"',
        'aws rds reboot-db-instance --db-instance-identifier demo-blue-instance-1',
      ].join('\n'),
    );
    // Changed but not rebooted: the blocker is gone from the group, the reboot is still owed.
    await apply(t, finding!.remediation.split('\n')[0]!);
    const waiting = of(await run(), 'rds-logical-replication');
    t.match(waiting, [
      {
        severity: 'warning',
        object: 'instances blue.demo-blue-instance-1',
        message: /waiting for a reboot \(DBClusterParameterGroupStatus pending-reboot\); until then the server may not run with what the group sets for rds\.logical_replication/,
        remediation: 'aws rds reboot-db-instance --db-instance-identifier demo-blue-instance-1',
      },
    ]);
    t.equal(waiting.length, 1);
    await apply(t, waiting[0]!.remediation);
    t.same(of(await run(), 'rds-logical-replication'), [], 'rebooted: nothing left');
  });

  await t.test('logical replication off in green\'s group, and too few slots', async (t) => {
    t.teardown(reset);
    await standIn.lab.setClusterParameter('demo-green', 'rds.logical_replication', '0', { reboot: true });
    await standIn.lab.setClusterParameter('demo-blue', 'max_replication_slots', '5', { reboot: true });
    const databases = ['demo', 'a', 'b', 'c', 'd', 'e', 'f'];
    const findings = of(await run({ databases }), 'rds-logical-replication');
    t.same(
      findings.map((f) => [f.severity, f.object]),
      [
        ['blocker', 'parameter blue.max_logical_replication_workers'],
        ['blocker', 'parameter blue.max_replication_slots'],
        ['blocker', 'parameter green.max_logical_replication_workers'],
        ['blocker', 'parameter green.rds.logical_replication'],
      ],
      "the engine default of 4 workers is short of 7 databases on both sides too",
    );
    const slots = findings.find((f) => f.object === 'parameter blue.max_replication_slots')!;
    t.match(slots.message, /sets max_replication_slots = 5, pgshift needs at least 7 for 7 database\(s\)/);
    t.match(slots.remediation, /ParameterName=max_replication_slots,ParameterValue=14,ApplyMethod=pending-reboot"\naws rds reboot-db-instance --db-instance-identifier demo-blue-instance-1$/);
    t.match(findings.find((f) => f.object === 'parameter green.rds.logical_replication')!.message, /lossless way back/);
  });

  await t.test('a cluster on RDS\'s default group: the fix makes a group of its own first', async (t) => {
    // What the stand-in says of a created cluster without a group, shown on green's facts.
    const facts = await catalog.rdsFacts('green');
    const onDefault = { ...facts, parameterGroup: 'default.aurora-postgresql14', parameters: { ...facts.parameters, 'rds.logical_replication': { value: '0', applyType: 'static', source: 'engine-default' } } };
    const report = await run({}, { ...targets, aws: { sides: ['blue', 'green'], facts: async (side) => (side === 'green' ? onDefault : catalog.rdsFacts(side)) } });
    const [finding] = of(report, 'rds-logical-replication');
    t.equal(
      finding!.remediation,
      [
        'aws rds create-db-cluster-parameter-group --db-cluster-parameter-group-name demo-green-pgshift --db-parameter-group-family aurora-postgresql14 --description "demo-green: logical replication for pgshift"',
        'aws rds modify-db-cluster --db-cluster-identifier demo-green --db-cluster-parameter-group-name demo-green-pgshift --apply-immediately',
        'aws rds modify-db-cluster-parameter-group --db-cluster-parameter-group-name demo-green-pgshift --parameters "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"',
        'aws rds reboot-db-instance --db-instance-identifier demo-green-instance-1',
      ].join('\n'),
    );
  });

  await t.test('Serverless v2 green smaller than provisioned blue: a warning, a blocker when clearly undersized', async (t) => {
    t.teardown(reset);
    // Blue: db.r6g.large, 16 GiB. Green: 0.5-4 ACU is 8 GiB at most, half of it.
    await standIn.lab.configureCluster('demo-green', { serverless: { minCapacity: 0.5, maxCapacity: 4 } });
    t.match(of(await run(), 'rds-capacity'), [
      {
        severity: 'warning',
        object: 'cluster demo-green',
        message: /green has Serverless v2 0\.5-4 ACU \(about 8 GiB\) against blue's writer demo-blue-instance-1 db\.r6g\.large \(about 16 GiB\): 50 %/,
        remediation: 'aws rds modify-db-cluster --db-cluster-identifier demo-green --serverless-v2-scaling-configuration MinCapacity=0.5,MaxCapacity=8 --apply-immediately',
      },
    ]);
    await standIn.lab.configureCluster('demo-green', { serverless: { minCapacity: 0.5, maxCapacity: 2 } });
    const [undersized] = of(await run(), 'rds-capacity');
    t.match(undersized, { severity: 'blocker', message: /25 % of blue's capacity, under 50 %/ });
  });

  await t.test('both Serverless v2: the ceiling and the floor are compared', async (t) => {
    t.teardown(reset);
    await standIn.lab.configureCluster('demo-blue', { serverless: { minCapacity: 4, maxCapacity: 32 } });
    await standIn.lab.configureCluster('demo-green', { serverless: { minCapacity: 0.5, maxCapacity: 32 } });
    const findings = of(await run(), 'rds-capacity');
    t.match(findings, [
      {
        severity: 'warning',
        object: 'cluster demo-green minimum capacity',
        message: /green scales from 0\.5 ACU, blue from 4/,
        remediation: 'aws rds modify-db-cluster --db-cluster-identifier demo-green --serverless-v2-scaling-configuration MinCapacity=4,MaxCapacity=32 --apply-immediately',
      },
    ]);
    t.equal(findings.length, 1);
  });

  await t.test('provisioned instance classes: smaller green is found, larger is fine', async (t) => {
    t.teardown(reset);
    await standIn.lab.configureCluster('demo-green', { instanceClass: 'db.t4g.medium' });
    t.match(of(await run(), 'rds-capacity'), [
      {
        severity: 'blocker',
        message: /green has writer demo-green-instance-1 db\.t4g\.medium \(about 4 GiB\) against blue's writer demo-blue-instance-1 db\.r6g\.large \(about 16 GiB\): 25 %/,
        remediation: 'aws rds modify-db-instance --db-instance-identifier demo-green-instance-1 --db-instance-class db.r6g.large --apply-immediately',
      },
    ]);
    await standIn.lab.configureCluster('demo-green', { instanceClass: 'db.r6g.2xlarge' });
    t.same(of(await run(), 'rds-capacity'), []);
    await standIn.lab.configureCluster('demo-green', { instanceClass: 'db.q9.large' });
    t.match(of(await run(), 'rds-capacity'), [{ severity: 'info', message: /cannot compare capacity/ }]);
  });

  await t.test('parameters that change behaviour: each difference a warning with its fix', async (t) => {
    t.teardown(reset);
    await standIn.lab.setClusterParameter('demo-green', 'work_mem', '65536');
    await standIn.lab.setClusterParameter('demo-blue', 'statement_timeout', '30000');
    const findings = of(await run(), 'rds-parameter-differences');
    t.match(findings, [
      {
        severity: 'warning',
        object: 'parameter statement_timeout',
        message: /statement_timeout differs: blue's demo-blue-params has 30000, green's demo-green-params \(engine default, unset\)/,
        remediation:
          'aws rds modify-db-cluster-parameter-group --db-cluster-parameter-group-name demo-green-params --parameters "ParameterName=statement_timeout,ParameterValue=30000,ApplyMethod=immediate"',
      },
      {
        severity: 'warning',
        object: 'parameter work_mem',
        remediation: 'aws rds reset-db-cluster-parameter-group --db-cluster-parameter-group-name demo-green-params --parameters "ParameterName=work_mem,ApplyMethod=immediate"',
      },
    ]);
    t.equal(findings.length, 2);
    await apply(t, findings[0]!.remediation);
    t.same(
      of(await run(), 'rds-parameter-differences').map((f) => f.object),
      ['parameter work_mem'],
      'the modify command fixed statement_timeout',
    );
  });

  await t.test('RDS refusing the calls: the check fails as a blocker naming the action', async (t) => {
    standIn.faults.inject({ action: 'DescribeDBClusterParameters', code: 'AccessDenied', status: 403, message: 'not authorized to perform: rds:DescribeDBClusterParameters', times: 10 });
    t.teardown(() => standIn.faults.clear());
    const report = await run();
    t.match(of(report, 'rds-logical-replication'), [{ severity: 'blocker', message: /rds:DescribeDBClusterParameters/ }]);
  });
});
