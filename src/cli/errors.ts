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
