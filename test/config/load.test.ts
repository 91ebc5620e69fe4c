import t, { type Test } from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, resolveConfig } from '../../src/config/load.js';
import { readConfigDocument } from '../../src/config/load.js';
import { MINIMAL_ENV, minimalConfigYaml, writeConfigFile } from '../helpers/config.js';
import { DEFAULT_BAKE_SECONDS, DEFAULT_READ_STEPS } from '../../src/defaults.js';
import YAML from 'yaml';

async function problemsOf(t: Test, text: string, env: Record<string, string> = MINIMAL_ENV): Promise<string[]> {
  const path = await writeConfigFile(t, text);
  try {
    await loadConfig(path, env);
  } catch (err) {
    t.type(err, ConfigError);
    return (err as ConfigError).problems;
  }
  t.fail('the configuration was accepted');
  return [];
}

t.test('a valid file loads with defaults filled in and env values converted', async (t) => {
  const path = await writeConfigFile(t, minimalConfigYaml());
  const config = await loadConfig(path, MINIMAL_ENV);
  const pair = config.pairs[0]!;
  t.equal(pair.blue.port, 5432);
  t.same(pair.steps, [...DEFAULT_READ_STEPS]);
  t.equal(pair.bakeSeconds, DEFAULT_BAKE_SECONDS);
  t.equal(pair.dns.reader.ttl, 5);
  t.equal(pair.blue.login.password, 'blue-secret-pw');
  t.equal(config.service.port, 0);
});

t.test('a port given through the environment becomes a number; a hex hash stays a string', async (t) => {
  const text = minimalConfigYaml().replace('port: 5432', 'port: ${BLUE_PORT}').replace(
    'service:\n',
    'auth:\n  tokens:\n    - { name: ops, role: operator, sha256: "${TOKEN_HASH}" }\nservice:\n',
  );
  const hash = '1'.repeat(64);
  const path = await writeConfigFile(t, text);
  const config = await loadConfig(path, { ...MINIMAL_ENV, BLUE_PORT: '6543', TOKEN_HASH: hash });
  t.equal(config.pairs[0]!.blue.port, 6543);
  t.equal(config.auth.tokens[0]!.sha256, hash);
});

t.test('secrets are readable but never serialised', async (t) => {
  const path = await writeConfigFile(t, minimalConfigYaml());
  const config = await loadConfig(path, MINIMAL_ENV);
  const text = JSON.stringify(config);
  for (const secret of Object.values(MINIMAL_ENV)) t.notMatch(text, secret, `${secret} is not in JSON`);
  t.equal(config.pairs[0]!.green.adminLogin.password, 'green-admin-pw');
});

t.test('an unknown key is refused with its path', async (t) => {
  const problems = await problemsOf(t, minimalConfigYaml({ pairExtra: '    bakeSecond: 10\n' }));
  t.same(problems, ['pairs[0].bakeSecond: unknown key']);
  const nested = await problemsOf(t, minimalConfigYaml().replace('expectedMajor: 13', 'expectedMajor: 13\n      hots: x'));
  t.same(nested, ['pairs[0].blue.hots: unknown key']);
});

t.test('a wrong type is refused with its path', async (t) => {
  const problems = await problemsOf(t, minimalConfigYaml().replace('port: 5433', 'port: five'));
  t.same(problems, ['pairs[0].green.port: must be integer']);
  const steps = await problemsOf(t, minimalConfigYaml({ pairExtra: '    steps: [10, 250]\n' }));
  t.match(steps, [/^pairs\[0\]\.steps\[1\]: must be <= 100$/]);
  const ssl = await problemsOf(t, minimalConfigYaml().replace('expectedMajor: 14', 'expectedMajor: 14\n      ssl: maybe'));
  t.same(ssl, ['pairs[0].green.ssl: must be one of "disable", "require", "verify-full"']);
});

t.test('a missing secret names the variable and the key', async (t) => {
  const env: Record<string, string> = { ...MINIMAL_ENV };
  delete env.GREEN_ADMIN_PASSWORD;
  const problems = await problemsOf(t, minimalConfigYaml(), env);
  t.same(problems, ['pairs[0].green.adminLogin.password: environment variable GREEN_ADMIN_PASSWORD is not set']);
});

t.test('a missing required key is named', async (t) => {
  const problems = await problemsOf(t, minimalConfigYaml().replace(/ {6}reader: .*\n/, ''));
  t.same(problems, ['pairs[0].dns.reader: is required']);
});

t.test('every problem is reported, one line each', async (t) => {
  const text = minimalConfigYaml({ pairExtra: '    bakeSeconds: -1\n    colour: blue\n' }).replace('port: 5433', 'port: 70000');
  const problems = await problemsOf(t, text);
  t.equal(problems.length, 3);
  t.ok(problems.every((p) => !p.includes('\n')));
});

t.test('rules across fields are checked', async (t) => {
  const cases: [string, RegExp][] = [
    [minimalConfigYaml().replace('expectedMajor: 14', 'expectedMajor: 13'), /^pairs\[0\]\.green\.expectedMajor: must be greater/],
    [minimalConfigYaml({ pairExtra: '    steps: [50, 25, 100]\n' }), /^pairs\[0\]\.steps\[1\]: steps must increase/],
    [minimalConfigYaml({ pairExtra: '    steps: [10, 50]\n' }), /^pairs\[0\]\.steps: the last read step must be 100/],
    [minimalConfigYaml().replace('writer.orders.example.com', 'READER.orders.example.com.'), /^pairs\[0\]\.dns\.writer\.name: reader and writer/],
    [minimalConfigYaml().replace('      host: 127.0.0.1\n      port: 5432\n', '      port: 5432\n'), /^pairs\[0\]\.blue: give exactly one of rdsClusterId/],
    [minimalConfigYaml().replace('host: 127.0.0.1\n      port: 5433', 'rdsClusterId: orders-green\n      host: 127.0.0.1\n      port: 5433'), /^pairs\[0\]\.green: give exactly one/],
    [minimalConfigYaml({ pairExtra: '    appRoles: [app, pgshift]\n' }), /^pairs\[0\]\.appRoles: "pgshift" is pgshift's own login/],
    [minimalConfigYaml().replace('    snapshotDir: /tmp/snapshots\n', ''), /^pairs\[0\]\.snapshotDir: is required when a cluster is plain/],
  ];
  for (const [text, expected] of cases) {
    const problems = await problemsOf(t, text);
    t.match(problems, [expected]);
  }
});

t.test('two pairs may not share an id or a record', async (t) => {
  const doc = YAML.parse(minimalConfigYaml()) as { pairs: unknown[] };
  doc.pairs.push(structuredClone(doc.pairs[0]));
  try {
    resolveConfig(doc, MINIMAL_ENV);
    t.fail('accepted');
  } catch (err) {
    const problems = (err as ConfigError).problems;
    t.ok(problems.includes('pairs[1].id: duplicate pair id "orders"'));
    t.ok(problems.some((p) => p.startsWith('pairs[1].dns.reader.name: the same record is already used at pairs[0].dns.reader.name')));
  }
});

t.test('an unreadable file is reported as such', async (t) => {
  const missing = await problemsAtPath(t, '/nonexistent/pgshift.yaml');
  t.match(missing, [/^\(file\): cannot read \/nonexistent\/pgshift.yaml: file not found$/]);

  const dir = await mkdtemp(join(tmpdir(), 'pgshift-config-dir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  t.match(await problemsAtPath(t, dir), [/^\(file\): cannot read .*EISDIR/]);
});

t.test('a YAML syntax error gives the line', async (t) => {
  const problems = await problemsOf(t, 'service:\n  port: [1, 2\nstate: {}\n');
  t.match(problems, [/^\(yaml\) line \d+: /]);
});

async function problemsAtPath(t: Test, path: string): Promise<string[]> {
  try {
    await readConfigDocument(path);
  } catch (err) {
    return (err as ConfigError).problems;
  }
  t.fail('read succeeded');
  return [];
}

t.test('config/aws.example.yaml is a valid configuration once its variables are set', async (t) => {
  const path = join(import.meta.dirname, '..', '..', 'config', 'aws.example.yaml');
  const hash = 'a'.repeat(64);
  const env = {
    PGSHIFT_STATE_URL: 'postgresql://pgshift@state.internal:5432/pgshift',
    PGSHIFT_OPERATOR_TOKEN_SHA256: hash,
    PGSHIFT_VIEWER_TOKEN_SHA256: hash,
    PGSHIFT_BLUE_PASSWORD: 'b',
    PGSHIFT_BLUE_ADMIN_PASSWORD: 'ba',
    PGSHIFT_GREEN_PASSWORD: 'g',
    PGSHIFT_GREEN_ADMIN_PASSWORD: 'ga',
  };
  const config = await loadConfig(path, env);
  t.equal(config.pairs[0]!.blue.rdsClusterId, 'orders-pg13');
  t.equal(config.pairs[0]!.green.expectedMajor, 14);
  t.equal(config.aws.accessKeyId, undefined, 'the default credential chain');
  t.match(config.pairs[0]!.green.create, { engineVersion: '14.12', instanceClass: 'db.r6g.large', tags: { team: 'orders' } });
  const { PGSHIFT_GREEN_ADMIN_PASSWORD: _omitted, ...missing } = env;
  const problems = await loadConfig(path, missing).then(
    () => [],
    (err: ConfigError) => err.problems,
  );
  t.same(problems, ['pairs[0].green.adminLogin.password: environment variable PGSHIFT_GREEN_ADMIN_PASSWORD is not set']);
});

/** The minimal config with green on RDS and a `create` section (indented for green). */
function withCreate(create: string, greenExtra = ''): string {
  return minimalConfigYaml().replace(
    '      host: 127.0.0.1\n      port: 5433\n      expectedMajor: 14\n',
    `      rdsClusterId: orders-green\n      expectedMajor: 14\n${greenExtra}      create:\n${create}`,
  );
}

t.test('green.create is loaded with its keys', async (t) => {
  const text = withCreate(
    '        engineVersion: "14.12"\n        dbClusterParameterGroup: logical-14\n        instanceClass: db.r6g.large\n' +
      '        subnetGroup: db-subnets\n        vpcSecurityGroupIds: [sg-1]\n        tags: { team: orders }\n',
  );
  const config = await loadConfig(await writeConfigFile(t, text), MINIMAL_ENV);
  t.same(config.pairs[0]!.green.create, {
    engineVersion: '14.12',
    dbClusterParameterGroup: 'logical-14',
    instanceClass: 'db.r6g.large',
    subnetGroup: 'db-subnets',
    vpcSecurityGroupIds: ['sg-1'],
    tags: { team: 'orders' },
  });
  const serverless = await loadConfig(
    await writeConfigFile(t, withCreate('        engineVersion: "14.12"\n        serverless: { minCapacity: 0.5, maxCapacity: 16 }\n')),
    MINIMAL_ENV,
  );
  t.same(serverless.pairs[0]!.green.create!.serverless, { minCapacity: 0.5, maxCapacity: 16 });
});

t.test('green.create is checked: major, one of instanceClass or serverless, ACU range, reserved tags', async (t) => {
  const cases: [string, string[] | RegExp[]][] = [
    [withCreate('        engineVersion: "13.12"\n        instanceClass: db.r6g.large\n'), [/^pairs\[0\]\.green\.create\.engineVersion: "13\.12" is major 13, but green\.expectedMajor is 14$/]],
    [withCreate('        engineVersion: "14.12"\n'), ['pairs[0].green.create: give exactly one of instanceClass or serverless']],
    [
      withCreate('        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        serverless: { minCapacity: 1, maxCapacity: 2 }\n'),
      ['pairs[0].green.create: give exactly one of instanceClass or serverless'],
    ],
    [withCreate('        engineVersion: "14.12"\n        serverless: { minCapacity: 8, maxCapacity: 4 }\n'), [/^pairs\[0\]\.green\.create\.serverless\.minCapacity: must not exceed maxCapacity/]],
    [withCreate('        engineVersion: "14.12"\n        serverless: { minCapacity: 0.5, maxCapacity: 300 }\n'), [/^pairs\[0\]\.green\.create\.serverless\.maxCapacity: must be <= 256$/]],
    [withCreate('        engineVersion: "14.12"\n        serverless: { minCapacity: 0.25, maxCapacity: 4 }\n'), [/^pairs\[0\]\.green\.create\.serverless\.minCapacity: /]],
    [withCreate('        engineVersion: "14.12"\n        instanceClass: db.serverless\n'), [/^pairs\[0\]\.green\.create\.instanceClass: for Serverless v2 give serverless/]],
    [withCreate('        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        tags: { "pgshift:pair": x }\n'), [/^pairs\[0\]\.green\.create\.tags\.pgshift:pair: tag keys starting with aws: or pgshift: are reserved$/]],
    [withCreate('        engineVersion: latest\n        instanceClass: db.r6g.large\n'), [/^pairs\[0\]\.green\.create\.engineVersion: /]],
    [withCreate('        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        storage: 100\n'), ['pairs[0].green.create.storage: unknown key']],
    [withCreate('        engineVersion: 14.10\n        instanceClass: db.r6g.large\n'), [/^pairs\[0\]\.green\.create\.engineVersion: must be quoted: YAML read the number 14\.1 /]],
    [withCreate('        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        tags: { "": x }\n'), ['pairs[0].green.create.tags.: a tag key has 1 to 128 characters']],
    [withCreate(`        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        tags: { ${'k'.repeat(129)}: x }\n`), [/^pairs\[0\]\.green\.create\.tags\.k+: a tag key has 1 to 128 characters$/]],
    [withCreate('        engineVersion: "14.12"\n        instanceClass: db.r6g.large\n        tags: { "AWS:team": x }\n'), [/^pairs\[0\]\.green\.create\.tags\.AWS:team: tag keys starting with aws: or pgshift: are reserved$/]],
  ];
  for (const [text, expected] of cases) {
    const problems = await problemsOf(t, text);
    t.match(problems, expected, expected.map(String).join());
    t.equal(problems.length, expected.length, problems.join('\n'));
  }
});

t.test('create is refused on blue, and on a green without rdsClusterId', async (t) => {
  const onBlue = minimalConfigYaml().replace(
    '      expectedMajor: 13\n',
    '      expectedMajor: 13\n      create: { engineVersion: "13.12", instanceClass: db.r6g.large }\n',
  );
  t.match(await problemsOf(t, onBlue), [/^pairs\[0\]\.blue\.create: only green can be created by pgshift/]);
  const plainGreen = minimalConfigYaml().replace(
    '      expectedMajor: 14\n',
    '      expectedMajor: 14\n      create: { engineVersion: "14.12", instanceClass: db.r6g.large }\n',
  );
  t.match(await problemsOf(t, plainGreen), [/^pairs\[0\]\.green\.rdsClusterId: is required with create/]);
});

t.test('subscriptionHost is a host alone, on blue or green', async (t) => {
  const on = (side: 'blue' | 'green', value: string) =>
    minimalConfigYaml().replace(side === 'blue' ? '      port: 5432\n' : '      port: 5433\n', `      port: ${side === 'blue' ? 5432 : 5433}\n      subscriptionHost: ${value}\n`);
  const config = resolveConfig(YAML.parse(on('blue', 'blue.internal')), MINIMAL_ENV);
  t.equal(config.pairs[0]!.blue.subscriptionHost, 'blue.internal');
  t.same(await problemsOf(t, on('green', '""')), ['pairs[0].green.subscriptionHost: must not have fewer than 1 characters']);
  t.same(await problemsOf(t, on('green', '"  "')), ['pairs[0].green.subscriptionHost: "  " is not a host name (it has spaces)']);
  t.same(await problemsOf(t, on('blue', 'blue.internal:5432')), [`pairs[0].blue.subscriptionHost: give the host alone ("blue.internal"); the port stays the endpoint's`]);
  t.same(await problemsOf(t, on('green', '"${NOT_SET}"')), ['pairs[0].green.subscriptionHost: environment variable NOT_SET is not set']);
});
