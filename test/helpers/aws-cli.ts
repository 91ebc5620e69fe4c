import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import * as D from '../../src/defaults.js';

/** The AWS CLI: Debian's at /usr/bin/aws (what .ci/run installs) or the first on PATH; null when none. */
export function findAwsCli(): string | null {
  const candidates = ['/usr/bin/aws', ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'aws'))];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

export interface AwsCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface AwsCli {
  /** The CLI's version line, e.g. `aws-cli/1.22.34 ...`. */
  version(): Promise<string>;
  run(args: string[]): Promise<AwsCliResult>;
  /** Runs and parses the JSON answer; throws with stderr when the CLI fails. */
  json(args: string[]): Promise<Record<string, any>>;
}

/**
 * The AWS CLI pointed at a stand-in, in a clean environment: the lab's fake keys, no
 * profile or config file, no instance-metadata probing, no pager, no retries, and
 * nothing AWS_* from the caller's shell.
 */
export function awsCli(cli: string, endpoint: string): AwsCli {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AWS_')) env[key] = value;
  Object.assign(env, {
    AWS_ACCESS_KEY_ID: D.LAB_AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: D.LAB_AWS_SECRET_ACCESS_KEY,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_MAX_ATTEMPTS: '1',
  });
  const exec = (args: string[]) =>
    new Promise<AwsCliResult>((resolve) => {
      execFile(cli, args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      });
    });
  const run = (args: string[]) => exec(['--endpoint-url', endpoint, '--output', 'json', ...args]);
  return {
    version: async () => {
      const out = await exec(['--version']);
      return `${out.stdout}${out.stderr}`.trim();
    },
    run,
    async json(args) {
      const out = await run(args);
      if (out.code !== 0) throw new Error(`aws ${args.join(' ')} exited ${out.code}: ${out.stderr}`);
      return JSON.parse(out.stdout) as Record<string, any>;
    },
  };
}
