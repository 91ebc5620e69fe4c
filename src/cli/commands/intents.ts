import type { CliCommand, CommandContext } from '../command.js';
import { EXIT, type ExitCode } from '../errors.js';
import { ApiError, type IntentAnswer, type IntentBody } from '../api-client.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';

/**
 * advance, revert, pause, resume: each records an intent through the API, which waits
 * for the controller to carry it out. Exit 0 done, 1 refused (guards, stage), 3 error.
 */
function intentCommand(action: 'advance' | 'revert' | 'pause' | 'resume', summary: string, withExpected: boolean): CliCommand {
  return {
    name: action,
    summary,
    usage: `[--pair P]${withExpected ? ' [--expect STAGE]' : ''} [--reason TEXT] [--no-wait] [--json]

${PAIR_USAGE}${withExpected ? '\n  --expect STAGE  refuse unless the pair is at STAGE (protects against double clicks)' : ''}
  --reason TEXT   recorded in the audit log
  --no-wait       return once the request is recorded`,
    options: {
      ...PAIR_OPTION,
      ...(withExpected ? { expect: { type: 'string' as const } } : {}),
      reason: { type: 'string' },
      'no-wait': { type: 'boolean', default: false },
    },
    async run(ctx): Promise<ExitCode> {
      const pair = await choosePair(ctx);
      const body: IntentBody = {};
      if (typeof ctx.options.expect === 'string') body.expectedStage = ctx.options.expect;
      if (typeof ctx.options.reason === 'string') body.reason = ctx.options.reason;
      const wait = ctx.options['no-wait'] !== true;
      let answer: IntentAnswer;
      try {
        answer = await ctx.api.requestIntent(pair, action, body, wait);
      } catch (err) {
        return refused(ctx, err);
      }
      if (ctx.json) ctx.out(`${JSON.stringify(answer, null, 2)}\n`);
      else if (answer.intent.status === 'pending') ctx.out(`${action} of ${pair} recorded (intent ${answer.intent.id}); the controller will carry it out\n`);
      else ctx.out(`${action} of ${pair}: done; now at ${answer.pair?.stage ?? '?'}${answer.pair?.paused ? ' (paused)' : ''}\n`);
      return EXIT.ok;
    },
  };
}

/** A 409 is the answer "no": print why (each failing guard) and exit 1. */
export function refused(ctx: CommandContext, err: unknown): ExitCode {
  if (!(err instanceof ApiError) || err.status !== 409) throw err;
  if (ctx.json) {
    ctx.out(`${JSON.stringify({ error: { code: err.code, message: err.message, details: err.details } }, null, 2)}\n`);
    return EXIT.notOk;
  }
  const details = err.details as { guards?: { name: string; detail: string }[]; reasons?: { guards?: { name: string; detail: string }[] } } | undefined;
  const guards = details?.guards ?? details?.reasons?.guards ?? [];
  ctx.out(`refused: ${err.message}\n${guards.map((g) => `  - ${g.name}: ${g.detail}\n`).join('')}`);
  return EXIT.notOk;
}

export const advanceCommand = intentCommand('advance', 'move a pair one stage forward (from the last read stage: the write cutover to green); exit 1 with the reasons when a guard fails', true);
export const revertCommand = intentCommand('revert', "send a pair's traffic back to blue (from green: the write cutover run back)", false);
export const pauseCommand = intentCommand('pause', 'stop automatic advancing (auto-revert stays armed)', false);
export const resumeCommand = intentCommand('resume', 'clear a pause, or the halt an auto-revert left', false);
