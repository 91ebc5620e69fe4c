import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LAB_CONFIG_PROBLEM } from '../../src/main.js';
import { ROOT, runTs } from '../helpers/process.js';
import { MINIMAL_ENV, minimalConfigYaml, writeConfigFile } from '../helpers/config.js';

t.test('bad configuration exits with status 2 and one line per problem naming the key', async (t) => {
  const text = minimalConfigYaml({ pairExtra: '    bakeSeconds: soon\n' }).replace('port: 5433', 'port: 5433\n      colour: green');
  const path = await writeConfigFile(t, text);
  const run = runTs('src/server.ts', ['--config', path], MINIMAL_ENV);
  const { code } = await run.exited;
  t.equal(code, 2);
  const lines = run.stderr().trim().split('\n');
  t.same(lines.sort(), [`${path}: pairs[0].bakeSeconds: must be number`, `${path}: pairs[0].green.colour: unknown key`].sort());
  t.equal(run.stdout(), '', 'nothing started, nothing logged');
});

t.test('a missing secret exits with status 2 naming the variable', async (t) => {
  const path = await writeConfigFile(t, minimalConfigYaml());
  const env: Record<string, string> = { ...MINIMAL_ENV, BLUE_PASSWORD: '' };
  const run = runTs('src/server.ts', ['--config', path], env);
  t.equal((await run.exited).code, 2);
  t.equal(run.stderr().trim(), `${path}: pairs[0].blue.login.password: environment variable BLUE_PASSWORD is not set`);
});

t.test('an unreadable config file exits with status 2', async (t) => {
  const run = runTs('src/server.ts', ['--config', '/nonexistent/pgshift.yaml']);
  t.equal((await run.exited).code, 2);
  t.match(run.stderr(), /pgshift\.yaml: \(file\): cannot read .*file not found/);
});

t.test('bad command-line arguments exit with status 2', async (t) => {
  const unknown = runTs('src/server.ts', ['--colour']);
  t.equal((await unknown.exited).code, 2);
  t.match(unknown.stderr(), /Unknown option '--colour'/);
  const port = runTs('src/server.ts', ['--port', 'eighty']);
  t.equal((await port.exited).code, 2);
  t.match(port.stderr(), /--port: must be an integer/);
  const empty = runTs('src/server.ts', ['--port', '']);
  t.equal((await empty.exited).code, 2, 'an empty --port is not port 0');
  t.match(empty.stderr(), /--port: must be an integer/);
  const rate = runTs('src/local/lab-server.ts', ['--workload-rate', ' ']);
  t.equal((await rate.exited).code, 2, 'a blank --workload-rate is not 0 writes/s');
  t.match(rate.stderr(), /--workload-rate: must be a number/);
});

t.test('a lab configuration given to the production service exits with status 2 pointing to the lab entry point', async (t) => {
  const run = runTs('src/server.ts', ['--config', 'config/local.yaml']);
  t.equal((await run.exited).code, 2);
  t.equal(run.stderr().trim(), `config/local.yaml: ${LAB_CONFIG_PROBLEM}`);
  t.match(run.stderr(), /npm start/);
  t.equal(run.stdout(), '', 'nothing started, nothing logged');
});

t.test('the lab entry point checks a lab configuration, its lab section included, before starting the lab', async (t) => {
  const text = (await readFile(join(ROOT, 'config', 'local.yaml'), 'utf8')).replace('  dir: .pgshift', '  dir: .pgshift\n  colour: green');
  const path = await writeConfigFile(t, text);
  const run = runTs('src/local/lab-server.ts', ['--config', path]);
  t.equal((await run.exited).code, 2);
  t.equal(run.stderr().trim(), `${path}: lab.colour: unknown key`);
});

t.test('the production service refuses the lab options', async (t) => {
  const run = runTs('src/server.ts', ['--fresh']);
  t.equal((await run.exited).code, 2);
  t.match(run.stderr(), /Unknown option '--fresh'/);
});
