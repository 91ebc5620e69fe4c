#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from 'node:util';
import * as D from '../defaults.js';
import { ApiClient, ApiError } from './api-client.js';
import type { CliCommand, OptionValues } from './command.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { COMMANDS } from './commands/index.js';

/** Options every command takes. */
const SHARED_OPTIONS: NonNullable<ParseArgsConfig['options']> = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

const SHARED_HELP = `  --url URL    pgshift's API (default: $PGSHIFT_URL or ${D.DEFAULT_CLI_URL})
  --token T    bearer token (default: $PGSHIFT_TOKEN)
  --json       print the API's JSON answer instead of a table
  -h, --help   this help`;

function usage(command?: CliCommand): string {
  if (command) return `usage: pgshift ${command.name} ${command.usage}\n\noptions of every command:\n${SHARED_HELP}\n`;
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const list = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
  return `usage: pgshift <command> [options]\n\ncommands:\n${list}\n\noptions of every command:\n${SHARED_HELP}\n\nexit codes: 0 ok, 1 the answer is no (e.g. blockers), 2 usage error, 3 service unreachable or error\n`;
}

interface CliIo {
  env: NodeJS.ProcessEnv;
  out: (text: string) => void;
  err: (text: string) => void;
  columns: number | undefined;
}

/** Runs one command line (without the node and script arguments) and answers the exit code. */
async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  let json = argv.includes('--json');
  try {
    const name = commandName(argv);
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) {
      if (name === undefined && (argv.includes('--help') || argv.includes('-h'))) {
        io.out(usage());
        return EXIT.ok;
      }
      throw new CliError(`${name === undefined ? 'no command given' : `unknown command "${name}"`}\n${usage()}`, EXIT.usage);
    }
    let values: OptionValues;
    let positionals: string[];
    try {
      ({ values, positionals } = parseArgs({
        args: argv,
        options: { ...SHARED_OPTIONS, ...command.options },
        allowPositionals: true,
        strict: true,
      }) as { values: OptionValues; positionals: string[] });
    } catch (err) {
      throw new CliError(`${(err as Error).message}\n${usage(command)}`, EXIT.usage);
    }
    json = values.json === true;
    if (values.help) {
      io.out(usage(command));
      return EXIT.ok;
    }
    const args = positionals.slice(positionals.indexOf(command.name) + 1);
    const extra = command.subcommands?.includes(args[0] ?? '') ? args.slice(1) : args;
    if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"\n${usage(command)}`, EXIT.usage);
    const api = new ApiClient(parseUrl(values.url ?? (io.env.PGSHIFT_URL || D.DEFAULT_CLI_URL)), tokenFrom(values.token, io.env));
    return await command.run({ api, options: values, args, json, env: io.env, out: io.out, columns: io.columns });
  } catch (err) {
    const { message, code, exitCode } = describeFailure(err);
    io.err(json ? `${JSON.stringify({ error: { code, message } })}\n` : `pgshift: ${message}\n`);
    return exitCode;
  }
}

/** The first positional argument, skipping shared options and the values they take. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('-')) return arg;
    const option = SHARED_OPTIONS[arg.replace(/^--?/, '')];
    if (option?.type === 'string' && !arg.includes('=')) i += 1;
  }
  return undefined;
}

function parseUrl(text: string | boolean): URL {
  let url: URL;
  try {
    url = new URL(String(text));
  } catch {
    throw new CliError(`--url: "${text}" is not a URL (e.g. ${D.DEFAULT_CLI_URL})`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError(`--url: "${text}" must be an http:// or https:// URL`, EXIT.usage);
  }
  return url;
}

function tokenFrom(option: string | boolean | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const token = typeof option === 'string' ? option : env.PGSHIFT_TOKEN;
  return token === '' ? undefined : token;
}

function describeFailure(err: unknown): { message: string; code: string; exitCode: ExitCode } {
  if (err instanceof CliError) {
    return { message: err.message.trimEnd(), code: err.exitCode === EXIT.usage ? 'PGSHIFT_CLI_USAGE' : 'PGSHIFT_CLI_ERROR', exitCode: err.exitCode };
  }
  if (err instanceof ApiError) {
    const hint = err.status === 401 ? ' (give a token with --token or PGSHIFT_TOKEN)' : err.status === 403 ? ' (this needs a token with a stronger role)' : '';
    // A pair that does not exist or a malformed one is the command line's mistake.
    const exitCode = err.status === 400 || err.code === 'PGSHIFT_ERR_PAIR_NOT_FOUND' ? EXIT.usage : EXIT.service;
    return { message: `${err.code}: ${err.message}${hint}`, code: err.code, exitCode };
  }
  return { message: err instanceof Error ? err.message : String(err), code: 'PGSHIFT_CLI_ERROR', exitCode: EXIT.service };
}

// A reader that closed the pipe early (`pgshift events | head`) has what it wanted.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  columns: process.stdout.isTTY ? process.stdout.columns : undefined,
});
