import t from 'tap';
import { DescribeDBClustersCommand, RDSClient } from '@aws-sdk/client-rds';
import * as D from '../../src/defaults.js';
import { stagingIds } from '../../src/rehearsal/staging.js';
import { startTestLab } from '../helpers/lab.js';
import { labServiceConfig } from '../helpers/lab-service.js';
import { startServiceProcess, type ServiceProcess } from '../helpers/prepare.js';
import { writeConfigFile } from '../helpers/config.js';
import { runCli } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';
import { standInRds } from '../helpers/rds.js';


async function clusterIds(rds: RDSClient): Promise<string[]> {
  return (await rds.send(new DescribeDBClustersCommand({}))).DBClusters!.map((c) => c.DBClusterIdentifier!);
}

function rehearsalDone(service: ServiceProcess, id: string): Promise<any> {
  return waitFor(
    `rehearsal ${id} to end`,
    async () => {
      const { body } = await service.api.get(`/api/v1/pairs/demo/rehearsals/${id}`);
      return body.status === 'running' ? undefined : body;
    },
    150_000,
    250,
  );
}

t.test('rehearsals through the API of a real pgshift process', async (t) => {
  const lab = await startTestLab(t);
  const rds = standInRds(lab.rds!.url, 3);
  t.teardown(() => rds.destroy());
  const config = await labServiceConfig(t, {}, 'info');
  let service = await startServiceProcess(t, lab, config, 'rehearsing');
  const stagingRecordsOf = (id: string) => lab.route53!.standIn.store.recordSets(lab.route53!.zoneId).filter((r) => r.name.includes(`${D.REHEARSAL_CLUSTER_PREFIX}${id}.`));
  const stageBefore = (await service.api.get('/api/v1/pairs/demo')).body.stage;

  await t.test('bad input is a 400 with the reason', async (t) => {
    const answer = await service.api.post('/api/v1/pairs/demo/rehearsals', { queries: [{ name: 'no sql' }] });
    t.equal(answer.status, 400);
    t.match(JSON.stringify(answer.body), /sql/);
    t.equal((await service.api.post('/api/v1/pairs/nope/rehearsals', {})).status, 404);
    const stranger = await service.api.post('/api/v1/pairs/demo/rehearsals', { queries: [{ name: 'elsewhere', sql: 'SELECT 1', database: 'billing' }] });
    t.equal(stranger.status, 400, 'a query in a database the pair does not have is refused before anything is restored');
    t.match(stranger.body, { error: { code: 'PGSHIFT_ERR_BAD_REQUEST', message: /query "elsewhere": database billing: not a database of pair demo/ } });
    t.equal((await service.api.get('/api/v1/pairs/demo/rehearsals/latest')).status, 404, 'and no rehearsal started');
  });

  await t.test('pgshift rehearse --follow runs one in the background, one at a time: the steps, then the report; exit 1 on a blocker', async (t) => {
    const env = { PGSHIFT_URL: service.url, PGSHIFT_TOKEN: lab.state.secrets.operatorToken };
    const bad = await writeConfigFile(t, '- name: no sql here\n', 'bad-queries.yaml');
    const refused = await runCli(['rehearse', '--queries', bad], env);
    t.equal(refused.code, 2, refused.stderr);
    t.match(refused.stderr, /--queries .*bad-queries\.yaml: not a list/);
    const badBake = await runCli(['rehearse', '--bake', 'soon'], env);
    t.equal(badBake.code, 2, badBake.stderr);
    t.match(badBake.stderr, /--bake soon: not a number/);
    const negative = await runCli(['rehearse', '--write-rate=-1'], env);
    t.equal(negative.code, 2, 'out of range');
    t.match(negative.stderr, /--write-rate -1: from 0 to 10000/);
    const long = await runCli(['rehearse', '--bake', '5000'], env);
    t.equal(long.code, 2);
    t.match(long.stderr, /--bake 5000: from 0 to 3600/);

    // PostgreSQL 14's EXTRACT returns numeric, 13's double precision.
    const queries = await writeConfigFile(
      t,
      `- name: customers\n  sql: SELECT count(*) FROM customers\n- name: order age\n  sql: SELECT extract(epoch FROM timestamp '2021-06-01 12:00:00.25')\n`,
      'queries.yaml',
    );
    const following = runCli(['rehearse', '--queries', queries, '--bake', '1', '--follow'], env);
    const running = await waitFor('the rehearsal to run', async () => {
      const { status, body } = await service.api.get('/api/v1/pairs/demo/rehearsals/latest');
      return status === 200 && body.status === 'running' ? body : undefined;
    }, 60_000, 100);
    const second = await service.api.post('/api/v1/pairs/demo/rehearsals', {});
    t.equal(second.status, 409, 'a second one is refused while it runs');
    t.match(second.body, { error: { code: 'PGSHIFT_ERR_REHEARSAL_RUNNING', message: new RegExp(running.id) } });

    const run = await following;
    t.equal(run.code, 1, run.stderr);
    t.match(run.stdout, new RegExp(`rehearsal ${running.id} of demo started`));
    t.match(run.stdout, /· prepare · initial copy \d+ %/);
    t.match(run.stdout, /outcome: BLOCKED/);
    t.match(run.stdout, /query SAME: query "customers"/);
    t.match(run.stdout, /BLOCKER \(queries\): query "order age" returns different rows on green/);
    t.match(run.stdout, /staging clusters removed: pgshift-rehearsal-/);
    t.match(run.stdout, /read stages: reads-\d+ \(moved in \d+ ms, held \d+\.\d s\)/);
    t.match(run.stdout, /cutover blue -> green: checks \d+ ms, .*flip-writer \d+ ms/);
    t.match(run.stdout, /staging records removed: pgshift-rehearsal-r[0-9a-f]+\.reader\./);
    const last = await runCli(['rehearse', '--last'], env);
    t.equal(last.code, 1);
    t.match(last.stdout, /outcome: BLOCKED/);

    const done = (await service.api.get(`/api/v1/pairs/demo/rehearsals/${running.id}`)).body;
    t.match(done, { status: 'done', step: 'teardown', report: { outcome: 'blocked', queries: [{ name: 'customers', verdict: 'same' }, { name: 'order age', verdict: 'rows-differ' }] } });
    t.ok(done.report.copy.bytes > 0, 'the copy was measured');
    // pgshift's own INSERT load (the process has no demo application to offer): it wrote, and the freezes refused it.
    t.match(done.report.writeLoad, { kind: 'inserts', ratePerSecond: 10, firstError: /not permitted to log in/ });
    t.ok(done.report.writeLoad.writes > 0 && done.report.writeLoad.errors > 0, JSON.stringify(done.report.writeLoad));
    t.same(await clusterIds(rds), ['demo-blue', 'demo-green'], 'staging clusters gone');
    const events = (await service.api.get('/api/v1/pairs/demo/events')).body.events.filter((e: any) => e.action === 'rehearsal');
    t.ok(events.some((e: any) => /initial copy 100 %/.test(e.reason)), 'the copy progress is in the audit log (and so on the event stream)');
    t.ok(events.some((e: any) => /stages \(the staging pair is at reads-\d+\)/.test(e.reason)), 'and each read stage the staging pair reached');
    t.equal((await service.api.get('/api/v1/pairs/demo')).body.stage, stageBefore, "the real pair's stage is untouched");
  });

  await t.test('a cancelled rehearsal still tears down', async (t) => {
    const started = await service.api.post('/api/v1/pairs/demo/rehearsals', {});
    const id = started.body.id as string;
    await waitFor('the staging clusters', async () => (await clusterIds(rds)).includes(stagingIds(id).blue) || undefined, 60_000, 100);
    t.equal((await service.api.post(`/api/v1/pairs/demo/rehearsals/${id}/cancel`, {})).status, 202);
    const done = await rehearsalDone(service, id);
    t.equal(done.report.outcome, 'cancelled');
    t.same(await clusterIds(rds), ['demo-blue', 'demo-green']);
  });

  await t.test('a rehearsal cancelled in the middle of its write cutover still tears down, its records too', async (t) => {
    const started = await service.api.post('/api/v1/pairs/demo/rehearsals', { bakeSeconds: 1 });
    const id = started.body.id as string;
    // The staging writer record moving to green: the cutover's flip is under way (or just landed).
    await waitFor('the staging cutover to flip the writer', () => {
      const writer = stagingRecordsOf(id).find((r) => r.name.startsWith(`${D.REHEARSAL_CLUSTER_PREFIX}${id}.writer`) && r.setIdentifier === 'green');
      return (writer?.weight ?? 0) > 0 || undefined;
    }, 150_000, 50);
    t.equal((await service.api.post(`/api/v1/pairs/demo/rehearsals/${id}/cancel`, {})).status, 202);
    const done = await rehearsalDone(service, id);
    t.equal(done.report.outcome, 'cancelled', JSON.stringify(done.report.findings));
    t.same(await clusterIds(rds), ['demo-blue', 'demo-green'], 'the staging clusters are gone');
    t.same(stagingRecordsOf(id), [], 'and the staging records');
    t.equal((await service.api.get('/api/v1/pairs/demo')).body.stage, stageBefore, "the real pair's stage is untouched");
  });

  await t.test('SIGKILL mid-rehearsal, at a read stage: the next start marks it interrupted and removes its staging records and clusters', async (t) => {
    // The bake holds the staging pair at baseline, then at its first read stage, where it is killed.
    const started = await service.api.post('/api/v1/pairs/demo/rehearsals', { bakeSeconds: 8 });
    const id = started.body.id as string;
    const ids = stagingIds(id);
    const stagingRecords = () => stagingRecordsOf(id);
    await waitFor('the staging pair at its first read stage', async () => {
      const reader = stagingRecords().find((r) => r.name.startsWith(`${D.REHEARSAL_CLUSTER_PREFIX}${id}.reader`) && r.setIdentifier === 'green');
      return (reader?.weight ?? 0) > 0 || undefined;
    }, 150_000, 100);
    service.process.child.kill('SIGKILL');
    t.equal((await service.process.exited).signal, 'SIGKILL');
    t.ok((await clusterIds(rds)).includes(ids.blue), 'the crash left the staging clusters');
    t.equal(stagingRecords().length, 4, 'and the staging records');

    service = await startServiceProcess(t, lab, config, 'rehearsing');
    await waitFor('the staging clusters to be swept', async () => (await clusterIds(rds)).length === 2 || undefined, 90_000, 250);
    t.same(await clusterIds(rds), ['demo-blue', 'demo-green']);
    t.same(stagingRecords(), [], 'the staging records are gone');
    t.match((await service.api.get(`/api/v1/pairs/demo/rehearsals/${id}`)).body, { id, status: 'interrupted', report: null });
  });
});
