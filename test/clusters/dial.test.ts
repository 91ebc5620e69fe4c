import t from 'tap';
import { buildConnectTarget, resolveEndpoint } from '../../src/clusters/dial.js';

const endpoint = (host: string, port = 5432) => ({ host, port });

t.test('hostOverrides: exact names, wildcards, and the longest suffix win', async (t) => {
  const overrides = {
    '*.lab.pgshift.internal': '127.0.0.1',
    '*.rds.lab.pgshift.internal': '10.0.0.9',
    'demo-blue.cluster-c0lab.us-east-1.rds.lab.pgshift.internal': '10.0.0.1:6432',
    'ipv6.example.com': '[::1]:7000',
    'Tunnel.Example.com.': 'bastion.local',
  };
  t.same(resolveEndpoint(endpoint('demo-blue.cluster-c0lab.us-east-1.rds.lab.pgshift.internal'), overrides), endpoint('10.0.0.1', 6432), 'exact name with a port');
  t.same(resolveEndpoint(endpoint('DEMO-GREEN.cluster-c0lab.us-east-1.rds.lab.pgshift.internal.', 1234), overrides), endpoint('10.0.0.9', 1234), 'longest wildcard, case and trailing dot ignored, port kept');
  t.same(resolveEndpoint(endpoint('writer.demo.lab.pgshift.internal', 99), overrides), endpoint('127.0.0.1', 99), 'shorter wildcard');
  t.same(resolveEndpoint(endpoint('lab.pgshift.internal'), overrides), endpoint('lab.pgshift.internal'), 'a wildcard does not match its own suffix');
  t.same(resolveEndpoint(endpoint('evil-lab.pgshift.internal'), { '*.lab.pgshift.internal': '127.0.0.1' }), endpoint('evil-lab.pgshift.internal'), 'the suffix starts at a dot');
  t.same(resolveEndpoint(endpoint('ipv6.example.com'), overrides), endpoint('::1', 7000), 'bracketed IPv6 with port');
  t.same(resolveEndpoint(endpoint('tunnel.example.com', 5433), overrides), endpoint('bastion.local', 5433), 'case-insensitive pattern with a trailing dot');
  t.same(resolveEndpoint(endpoint('db.example.org'), overrides), endpoint('db.example.org'), 'no match leaves the endpoint alone');
  t.same(resolveEndpoint(endpoint('db.example.org'), {}), endpoint('db.example.org'));
});

t.test('buildConnectTarget keeps the login by reference (its password is non-enumerable)', async (t) => {
  const login = { user: 'pgshift' } as { user: string; password: string };
  Object.defineProperty(login, 'password', { value: 's3cret', enumerable: false });
  const target = buildConnectTarget(endpoint('a.lab.pgshift.internal', 6000), {
    login,
    database: 'demo',
    ssl: 'require',
    hostOverrides: { '*.lab.pgshift.internal': '127.0.0.1' },
  });
  t.same(target.endpoint, endpoint('127.0.0.1', 6000));
  t.equal(target.login.password, 's3cret');
  t.equal(target.ssl, 'require');
  t.notMatch(JSON.stringify(target), /s3cret/);
});
