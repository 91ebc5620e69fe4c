import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { ConnectTarget } from '../../src/postgres/connect.js';
import { ident, withClient } from '../../src/postgres/connect.js';
import { toolEnv } from '../../src/replication/tools.js';
import { resolveBinaries } from '../../src/local/binaries.js';
import { ensureLabUser } from '../../src/local/os-user.js';
import { LabServer } from '../../src/local/pg-server.js';
import { freePort, secret } from '../../src/local/lab-state.js';
import { testLogger } from '../helpers/lab.js';

export interface ScratchServer {
  server: LabServer;
  admin(database?: string): ConnectTarget;
}

/**
 * An empty PostgreSQL server of the given major, made with the lab's binaries (initdb
 * into a temp folder), stopped and removed when the test ends.
 */
export async function startScratchServer(t: Test, major: number): Promise<ScratchServer> {
  const user = await ensureLabUser();
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-scratch-'));
  await chmod(dir, 0o755);
  const password = secret();
  const server = new LabServer({
    name: `scratch-${major}`,
    dir,
    binaries: await resolveBinaries(major, user),
    port: await freePort(),
    superuserPassword: password,
    user,
    log: testLogger(),
  });
  t.teardown(async () => {
    await server.stop('immediate');
    await rm(dir, { recursive: true, force: true });
  });
  await server.init();
  await server.start();
  return {
    server,
    admin: (database = 'postgres') => ({
      endpoint: { host: '127.0.0.1', port: server.port },
      database,
      login: { user: 'postgres', password },
    }),
  };
}

export interface ToolResult {
  code: number;
  stderr: string;
}

export function runTool(command: string, args: string[], target: ConnectTarget): Promise<ToolResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: toolEnv(target), stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

function connectionArgs(target: ConnectTarget): string[] {
  return ['-h', target.endpoint.host, '-p', String(target.endpoint.port), '-U', target.login.user, '-d', target.database];
}

interface ManifestFile {
  globalsFile?: string;
  databases: { name: string; file: string }[];
}

export async function readManifest(folder: string): Promise<ManifestFile & Record<string, unknown>> {
  return JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8'));
}

/**
 * Restores a snapshot folder into an empty server the way an operator would, with
 * Debian's client tools: the roles first (psql), then each database created empty
 * and filled with `pg_restore --exit-on-error`. (`pg_restore --create` would replay
 * the CREATE DATABASE of a newer pg_dump, which older servers do not parse.)
 */
export async function restoreSnapshot(
  folder: string,
  admin: ConnectTarget,
): Promise<{ globals: ToolResult; databases: Record<string, ToolResult> }> {
  const manifest = await readManifest(folder);
  const globals = await runTool('psql', ['-X', '-q', '-f', join(folder, manifest.globalsFile ?? 'globals.sql'), ...connectionArgs(admin)], admin);
  const databases: Record<string, ToolResult> = {};
  for (const db of manifest.databases) {
    await withClient(admin, async (c) => {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db.name]);
      if (exists.rowCount === 0) await c.query(`CREATE DATABASE ${ident(db.name)}`);
    });
    const target = { ...admin, database: db.name };
    databases[db.name] = await runTool('pg_restore', ['--exit-on-error', ...connectionArgs(target), join(folder, db.file)], target);
  }
  return { globals, databases };
}

/** Exact row counts of every user table, keyed `schema.table`. */
export async function rowCounts(target: ConnectTarget): Promise<Record<string, number>> {
  return withClient(target, async (c) => {
    const { rows } = await c.query<{ name: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
        ORDER BY 1`,
    );
    const counts: Record<string, number> = {};
    for (const { name } of rows) counts[name] = Number((await c.query(`SELECT count(*) AS n FROM ${name}`)).rows[0].n);
    return counts;
  });
}
