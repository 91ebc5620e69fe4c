import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './api-client.js';
import type { ExitCode } from './errors.js';

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
  /** The words it takes after its name, one of them (`schema sync`); absent: none. */
  subcommands?: readonly string[];
  /** Answers the exit code; throws CliError for usage or service problems. */
  run(ctx: CommandContext): Promise<ExitCode>;
}
