import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './api-client.js';

/**
 * The CLI's exit codes, part of its contract for scripts: 0 all good, 1 the answer is
 * "no" (e.g. preflight found a blocker), 2 the command line is wrong, 3 the service
 * could not be reached or answered with an error.
 */
export const EXIT = { ok: 0, notOk: 1, usage: 2, service: 3 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the CLI with a message on stderr and its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export type OptionValues = Record<string, string | boolean | undefined>;

export interface CommandContext {
  api: ApiClient;
  /** Shared and command options, parsed. */
  options: OptionValues;
  /** Positionals after the command name. */
  args: string[];
  json: boolean;
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  /** Terminal width for tables; undefined when not a terminal. */
  columns: number | undefined;
}

/**
 * One subcommand: its options (beside the shared --url, --token, --json, --help) and
 * what it does. Adding a command is a module exporting one of these, listed in
 * commands/index.ts.
 */
export interface CliCommand {
  name: string;
  summary: string;
  /** Usage lines after `pgshift <name>`, e.g. `[--pair P] [--last]`, and option help. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Answers the exit code; throws CliError for usage or service problems. */
  run(ctx: CommandContext): Promise<ExitCode>;
}
