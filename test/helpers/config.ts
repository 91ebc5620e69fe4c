import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { rm } from 'node:fs/promises';

/** A minimal valid configuration document for a plain-PostgreSQL pair, as YAML text. */
export function minimalConfigYaml(overrides: { pairExtra?: string; top?: string } = {}): string {
  return `service:
  port: 0
state:
  url: postgresql://pgshift@127.0.0.1:1/state
${overrides.top ?? ''}
pairs:
  - id: orders
    databases: [orders]
    snapshotDir: /tmp/snapshots
    blue:
      host: 127.0.0.1
      port: 5432
      expectedMajor: 13
      login: { user: pgshift, password: "\${BLUE_PASSWORD}" }
      adminLogin: { user: postgres, password: "\${BLUE_ADMIN_PASSWORD}" }
    green:
      host: 127.0.0.1
      port: 5433
      expectedMajor: 14
      login: { user: pgshift, password: "\${GREEN_PASSWORD}" }
      adminLogin: { user: postgres, password: "\${GREEN_ADMIN_PASSWORD}" }
    dns:
      hostedZoneId: Z0EXAMPLE12345
      reader: { name: reader.orders.example.com }
      writer: { name: writer.orders.example.com }
${overrides.pairExtra ?? ''}`;
}

export const MINIMAL_ENV = {
  BLUE_PASSWORD: 'blue-secret-pw',
  BLUE_ADMIN_PASSWORD: 'blue-admin-pw',
  GREEN_PASSWORD: 'green-secret-pw',
  GREEN_ADMIN_PASSWORD: 'green-admin-pw',
};

/** Writes `text` to a config file in a temp folder removed after the test. */
export async function writeConfigFile(t: Test, text: string, name = 'pgshift.yaml'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
