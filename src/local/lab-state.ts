import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Type from 'typebox';
import Value from 'typebox/value';

/**
 * What the lab remembers between starts, in `<lab dir>/lab.json` (mode 0600): the ports
 * it chose and the secrets it made. Everything else is derived from the servers.
 */
export const LabStateSchema = Type.Object({
  version: Type.Literal(1),
  ports: Type.Record(Type.String(), Type.Integer({ minimum: 1, maximum: 65535 })),
  secrets: Type.Object({
    adminPassword: Type.String({ minLength: 16 }),
    pgshiftPassword: Type.String({ minLength: 16 }),
    appPassword: Type.String({ minLength: 16 }),
    operatorToken: Type.String({ minLength: 16 }),
    viewerToken: Type.String({ minLength: 16 }),
  }),
});
export type LabState = Type.Static<typeof LabStateSchema>;

const FILE = 'lab.json';

export function secret(): string {
  return randomBytes(24).toString('base64url');
}

export async function loadLabState(dir: string): Promise<LabState> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(dir, FILE), 'utf8'));
    if (Value.Check(LabStateSchema, parsed)) return parsed;
  } catch {
    // Missing or unreadable: a new lab starts with new secrets.
  }
  return {
    version: 1,
    ports: {},
    secrets: {
      adminPassword: secret(),
      pgshiftPassword: secret(),
      appPassword: secret(),
      operatorToken: `pgs_${secret()}`,
      viewerToken: `pgs_${secret()}`,
    },
  };
}

export async function saveLabState(dir: string, state: LabState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, FILE);
  // Write then rename, so a crash never leaves a half-written file behind.
  await writeFile(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The remembered port when it is still free (or `inUseByUs`), otherwise a new one. */
export async function choosePort(state: LabState, key: string, inUseByUs = false): Promise<number> {
  const known = state.ports[key];
  if (known !== undefined && (inUseByUs || (await isPortFree(known)))) return known;
  const port = await freePort();
  state.ports[key] = port;
  return port;
}
