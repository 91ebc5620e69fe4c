import { createServer } from 'node:net';
import t from 'tap';
import { startTestLab } from '../helpers/lab.js';
import { runCli } from '../helpers/process.js';
import { preflightApp, sql } from '../preflight/lab-preflight.js';

const TOKEN = 'operator-token-for-cli-tests';


async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('pgshift preflight, the CLI, against a listening service', async (t) => {
  const lab = await startTestLab(t);
  const app = await preflightApp(t, lab, { [TOKEN]: 'operator' });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const auth = ['--url', url, '--token', TOKEN];

  await t.test('a clean pair: a readable table and exit 0', async (t) => {
    const { code, stdout } = await runCli(['preflight', '--pair', 'demo', ...auth]);
    t.equal(code, 0);
    t.match(stdout, /^Preflight of pair demo: blue \d+\.\d+ -> green \d+\.\d+/);
    t.match(stdout, 'READY: no blocker');
    t.match(stdout, /SEVERITY +CHECK +DATABASE +OBJECT +MESSAGE AND FIX/);
    t.match(stdout, /INFO +extension-parity +demo +extension hstore/);
  });

  await t.test('URL, token and pair from the environment; --json prints the report', async (t) => {
    const { code, stdout } = await runCli(['preflight', '--json'], { PGSHIFT_URL: url, PGSHIFT_TOKEN: TOKEN, PGSHIFT_PAIR: 'demo' });
    t.equal(code, 0);
    t.match(JSON.parse(stdout), { pair: 'demo', ok: true, findings: Array });
  });

  await t.test('a blocker: exit 1, the table names it and its fix; --last reads the same report', async (t) => {
    await sql(lab, 'blue', 'CREATE TABLE no_key (a integer)');
    t.teardown(() => sql(lab, 'blue', 'DROP TABLE IF EXISTS no_key'));
    const { code, stdout } = await runCli(['preflight', '--pair', 'demo', ...auth]);
    t.equal(code, 1);
    t.match(stdout, /NOT READY: 2 blocker\(s\)/, 'no key, and not on green');
    t.match(stdout, /BLOCKER +replica-identity +demo +table public\.no_key/);
    t.match(stdout, 'fix: ALTER TABLE public.no_key ADD PRIMARY KEY (<key columns>);');

    const last = await runCli(['preflight', '--pair', 'demo', '--last', '--json', ...auth]);
    t.equal(last.code, 1);
    t.match(JSON.parse(last.stdout), { ok: false, findings: [{ check: 'replica-identity' }] });
  });

  await t.test('usage errors exit 2', async (t) => {
    const unknownOption = await runCli(['preflight', '--bogus', ...auth]);
    t.equal(unknownOption.code, 2);
    t.match(unknownOption.stderr, /Unknown option '--bogus'[\s\S]*usage: pgshift preflight/);

    const unknownCommand = await runCli(['frobnicate', ...auth]);
    t.equal(unknownCommand.code, 2);
    t.match(unknownCommand.stderr, 'unknown command "frobnicate"');

    const unknownPair = await runCli(['preflight', '--pair', 'nope', ...auth]);
    t.equal(unknownPair.code, 2);
    t.match(unknownPair.stderr, 'PGSHIFT_ERR_PAIR_NOT_FOUND');

    const noPair = await runCli(['preflight', ...auth]);
    t.equal(noPair.code, 2);
    t.match(noPair.stderr, '--pair is required');

    const badUrl = await runCli(['preflight', '--pair', 'demo', '--url', 'ftp://x']);
    t.equal(badUrl.code, 2);
    t.match(badUrl.stderr, 'must be an http:// or https:// URL');

    // Found before the service is asked: nothing listens at port 9.
    const nowhere = ['--pair', 'demo', '--url', 'http://127.0.0.1:9'];
    const badPhase = await runCli(['preflight', '--phase', 'PREPARE', ...nowhere]);
    t.equal(badPhase.code, 2);
    t.match(badPhase.stderr, '--phase: must be one of prepare, prepared, got "PREPARE"');
    const noPhase = await runCli(['preflight', ...nowhere, '--phase']);
    t.equal(noPhase.code, 2);
    t.match(noPhase.stderr, "Option '--phase <value>' argument missing");
    const phaseAndLast = await runCli(['preflight', '--phase', 'prepare', '--last', ...nowhere]);
    t.equal(phaseAndLast.code, 2);
    t.match(phaseAndLast.stderr, '--phase runs the checks; --last only reads the last report');
  });

  await t.test('service problems exit 3 with a clear message', async (t) => {
    const port = await closedPort();
    const unreachable = await runCli(['preflight', '--pair', 'demo', '--url', `http://127.0.0.1:${port}`, '--token', TOKEN]);
    t.equal(unreachable.code, 3);
    t.match(unreachable.stderr, `pgshift: cannot reach pgshift at http://127.0.0.1:${port}: connection refused (is the service running?)`);

    const noToken = await runCli(['preflight', '--pair', 'demo', '--url', url]);
    t.equal(noToken.code, 3);
    t.match(noToken.stderr, /PGSHIFT_ERR_UNAUTHORIZED: .*\(give a token with --token or PGSHIFT_TOKEN\)/);

    const jsonError = await runCli(['preflight', '--pair', 'demo', '--json', '--url', url]);
    t.equal(jsonError.code, 3);
    t.match(JSON.parse(jsonError.stderr), { error: { code: 'PGSHIFT_ERR_UNAUTHORIZED' } });
  });
});
