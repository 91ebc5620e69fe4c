import t from 'tap';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPortFree } from '../../src/local/lab-state.js';
import { withClient, type ConnectTarget } from '../../src/postgres/connect.js';
import { runTs, type RunningProcess } from '../helpers/process.js';
import { waitFor } from '../helpers/wait.js';

interface LabFile {
  ports: Record<string, number>;
  secrets: { adminPassword: string; operatorToken: string; viewerToken: string };
}

async function startServer(labDir: string, extra: string[] = []): Promise<{ run: RunningProcess; url: string }> {
  const run = runTs('src/local/lab-server.ts', ['--config', 'config/local.yaml', '--lab-dir', labDir, '--port', '0', ...extra]);
  const line = await run.waitForLog((l) => l.msg === 'pgshift listening', 120_000);
  return { run, url: String(line.url) };
}

function admin(lab: LabFile, side: 'blue' | 'green'): ConnectTarget {
  return {
    endpoint: { host: '127.0.0.1', port: lab.ports[side]! },
    database: 'demo',
    login: { user: 'postgres', password: lab.secrets.adminPassword },
  };
}

async function portsOf(url: string, lab: LabFile): Promise<number[]> {
  return [Number(new URL(url).port), lab.ports.blue!, lab.ports.green!, lab.ports.state!];
}

t.test('the service on the embedded lab, as npm start runs it', async (t) => {
  const labDir = await mkdtemp(join(tmpdir(), 'pgshift-process-'));
  await chmod(labDir, 0o755);
  t.teardown(() => rm(labDir, { recursive: true, force: true }));

  const { run, url } = await startServer(labDir);
  t.teardown(() => run.child.kill('SIGKILL'));
  const lab = JSON.parse(await readFile(join(labDir, 'lab.json'), 'utf8')) as LabFile;

  await t.test('is ready and prints how to reach it', async (t) => {
    const ready = await fetch(`${url}/readyz`);
    t.equal(ready.status, 200);
    const banner = await waitFor('the banner', () => (run.stderr().includes('green (PostgreSQL') ? run.stderr() : undefined));
    t.match(banner, url);
    t.match(banner, /blue +\(PostgreSQL 13\.\d+\) +postgresql:\/\/app@127\.0\.0\.1:\d+\/demo/);
    t.match(banner, /green \(PostgreSQL 14\.\d+\) +postgresql:\/\/app@127\.0\.0\.1:\d+\/demo/);
    t.match(banner, lab.secrets.operatorToken);
    t.match(banner, /demo app +\d+ writes\/s/, 'the demo application runs by default');
    t.match(banner, /app numbers +curl http:\/\/127\.0\.0\.1:\d+\//, 'and the banner says where its numbers are');
    t.notMatch(banner, lab.secrets.adminPassword, 'no database password on the screen');
    t.notMatch(run.stdout(), lab.secrets.adminPassword, 'no database password in the logs');
  });

  await t.test('prepares green through the service on the first start, printing its progress', async (t) => {
    const stderr = await waitFor('the preparation to end', () => (/green +(NOT )?prepared/.test(run.stderr()) ? run.stderr() : undefined), 120_000, 200);
    t.match(stderr, /green +being prepared through the service \(pgshift prepare --pair demo\)/);
    t.match(stderr, /preparing demo: \S+ \(\d+\/\d+ steps done\)/, 'a progress line');
    t.match(stderr, /green +prepared: demo is at baseline, green follows blue/);
    const pair = await fetch(`${url}/api/v1/pairs/demo`, { headers: { authorization: `Bearer ${lab.secrets.viewerToken}` } }).then((r) => r.json());
    t.match(pair, { stage: 'baseline', preparation: null, lastTransition: { kind: 'prepare', from: 'unprepared', to: 'baseline', outcome: 'finished' } });
  });

  await t.test('has blue 13 replicating to green 14', async (t) => {
    const version = (side: 'blue' | 'green') =>
      withClient(admin(lab, side), async (c) => String((await c.query('SHOW server_version')).rows[0].server_version));
    t.match(await version('blue'), /^13\./);
    t.match(await version('green'), /^14\./);
    const id = await withClient(admin(lab, 'blue'), async (c) =>
      String((await c.query('INSERT INTO orders (customer_id, total_cents) VALUES (1, 987654321) RETURNING id')).rows[0].id),
    );
    await waitFor('the row on green', () =>
      withClient(admin(lab, 'green'), async (c) => (await c.query('SELECT 1 FROM orders WHERE id = $1', [id])).rowCount === 1),
    );
  });

  await t.test('stops on SIGTERM within the grace period and frees every port', async (t) => {
    const ports = await portsOf(url, lab);
    run.child.kill('SIGTERM');
    const { code } = await run.exited;
    t.equal(code, 0);
    for (const port of ports) t.ok(await isPortFree(port), `port ${port} is free`);
    t.match(run.stdout(), /"msg":"stopped"/);
  });

  await t.test('starts again on the same lab and stops on SIGINT', async (t) => {
    const again = await startServer(labDir);
    t.teardown(() => again.run.child.kill('SIGKILL'));
    t.equal((await fetch(`${again.url}/readyz`)).status, 200);
    const relab = JSON.parse(await readFile(join(labDir, 'lab.json'), 'utf8')) as LabFile;
    t.same(relab.ports, lab.ports, 'the lab kept its ports');
    const ports = await portsOf(again.url, relab);
    again.run.child.kill('SIGINT');
    t.equal((await again.run.exited).code, 0);
    for (const port of ports) t.ok(await isPortFree(port), `port ${port} is free`);
  });

  await t.test('starts over with --fresh: a new lab with new secrets', async (t) => {
    const fresh = await startServer(labDir, ['--fresh']);
    t.teardown(() => fresh.run.child.kill('SIGKILL'));
    t.equal((await fetch(`${fresh.url}/readyz`)).status, 200);
    const relab = JSON.parse(await readFile(join(labDir, 'lab.json'), 'utf8')) as LabFile;
    t.not(relab.secrets.operatorToken, lab.secrets.operatorToken, 'a new operator token');
    t.match(fresh.run.stderr(), relab.secrets.operatorToken, 'the banner shows it');
    fresh.run.child.kill('SIGTERM');
    t.equal((await fresh.run.exited).code, 0);
  });
});
