import type { CliCommand } from '../command.js';
import { CliError, EXIT, type ExitCode } from '../errors.js';
import type { IntentAnswer, IntentBody } from '../api-client.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { refused } from './intents.js';

/**
 * `pgshift finalize`: closes the way back at green (reverse replication stops; a revert
 * is no longer possible). Asked for on purpose only: without --confirm it is a usage
 * error. Exit 0 finalized, 1 refused (not at green, rollback window open), 2 no
 * --confirm, 3 service error.
 */
export const finalizeCommand: CliCommand = {
  name: 'finalize',
  summary: 'at green, close the way back to blue for good (needs --confirm)',
  usage: `[--pair P] --confirm [--ignore-rollback-window] [--reason TEXT] [--no-wait] [--json]

${PAIR_USAGE}
  --confirm                 closing the way back is meant: reverse replication stops, a revert is no longer possible
  --ignore-rollback-window  finalize before cutover.rollbackWindowSeconds have passed at green
  --reason TEXT             recorded in the audit log
  --no-wait                 return once the request is recorded`,
  options: {
    ...PAIR_OPTION,
    confirm: { type: 'boolean', default: false },
    'ignore-rollback-window': { type: 'boolean', default: false },
    reason: { type: 'string' },
    'no-wait': { type: 'boolean', default: false },
  },
  async run(ctx): Promise<ExitCode> {
    if (ctx.options.confirm !== true) {
      throw new CliError('finalize closes the way back to blue for good (reverse replication stops; a revert is no longer possible): add --confirm to mean it', EXIT.usage);
    }
    const pair = await choosePair(ctx);
    const body: IntentBody = { confirm: true };
    if (ctx.options['ignore-rollback-window'] === true) body.ignoreRollbackWindow = true;
    if (typeof ctx.options.reason === 'string') body.reason = ctx.options.reason;
    const wait = ctx.options['no-wait'] !== true;
    let answer: IntentAnswer;
    try {
      answer = await ctx.api.requestIntent(pair, 'finalize', body, wait);
    } catch (err) {
      return refused(ctx, err);
    }
    if (ctx.json) ctx.out(`${JSON.stringify(answer, null, 2)}\n`);
    else if (answer.intent.status === 'pending') ctx.out(`finalize of ${pair} recorded (intent ${answer.intent.id}); the controller will carry it out\n`);
    else ctx.out(`finalize of ${pair}: done; now at ${answer.pair?.stage ?? '?'}\n${answer.pair?.retired ?? 'the way back is closed'}\n`);
    return EXIT.ok;
  },
};
