import type { spawn } from 'node:child_process';
import * as D from '../defaults.js';
import type { ConnectTarget } from '../postgres/connect.js';

/** Running PostgreSQL's client tools (pg_dump, pg_dumpall) against a target. */

export function toolArgs(target: ConnectTarget): string[] {
  return ['-h', target.endpoint.host, '-p', String(target.endpoint.port), '-U', target.login.user, '-d', target.database];
}

export function toolEnv(target: ConnectTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    PGPASSWORD: target.login.password,
    PGCONNECT_TIMEOUT: String(Math.ceil(D.PG_CONNECT_TIMEOUT_MS / 1000)),
    PGAPPNAME: D.PG_APPLICATION_NAME,
    PGOPTIONS: '-c default_transaction_read_only=off',
  };
  if ((target.ssl ?? 'disable') !== 'disable') env.PGSSLMODE = target.ssl === 'verify-full' ? 'verify-full' : 'require';
  return env;
}

export function finished(child: ReturnType<typeof spawn>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', (err) => resolve({ code: -1, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}
