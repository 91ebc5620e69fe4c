import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDeployParameters, ParameterError } from '../../deploy/parameters.js';
import { ROOT } from '../helpers/process.js';

async function example(): Promise<Record<string, any>> {
  return JSON.parse(await readFile(join(ROOT, 'deploy', 'parameters.example.json'), 'utf8'));
}

function problemsOf(raw: unknown): string[] {
  try {
    parseDeployParameters(raw);
  } catch (err) {
    if (err instanceof ParameterError) return err.problems;
    throw err;
  }
  return [];
}

t.test('the example parameter file is valid', async (t) => {
  t.same(problemsOf(await example()), []);
});

t.test('bad parameters are refused with the key they are at', async (t) => {
  const missing = await example();
  delete missing.dns.hostedZoneId;
  missing.clusters.green.id = 'orders pg14';
  missing.typo = 1;
  const problems = problemsOf(missing);
  t.ok(problems.includes('dns.hostedZoneId: is required'), problems.join('\n'));
  t.ok(problems.includes('typo: unknown key'), problems.join('\n'));
  t.ok(problems.some((p) => p.startsWith('clusters.green.id: ')), problems.join('\n'));
});

t.test('exactly one way in for API callers, and one way to each database', async (t) => {
  const both = await example();
  both.loadBalancerSecurityGroupId = 'sg-0123456789abcdef9';
  t.match(problemsOf(both), [/^allowedCidr \/ loadBalancerSecurityGroupId: give exactly one/]);
  const neither = await example();
  delete neither.stateDatabase.securityGroupId;
  t.match(problemsOf(neither), [/^stateDatabase: give exactly one of securityGroupId and cidr/]);
  const sameCluster = await example();
  sameCluster.clusters.green.id = 'Orders-PG13';
  t.match(problemsOf(sameCluster), [/^clusters\.green\.id: is the same cluster/]);
});

t.test('a secret override must name a variable the configuration reads', async (t) => {
  const raw = await example();
  raw.secretOverrides = { PGSHIFT_BLUE_PASWORD: { secretArn: raw.secretArn, jsonField: 'password' } };
  t.match(problemsOf(raw), [/^secretOverrides\.PGSHIFT_BLUE_PASWORD: not a variable the configuration reads/]);
});
