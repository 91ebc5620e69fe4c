import type { CliCommand } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { renderTable } from '../table.js';

/** `pgshift events`: the audit log, newest first. */
export const eventsCommand: CliCommand = {
  name: 'events',
  summary: 'the audit log of a pair, newest first',
  usage: `[--pair P] [--limit N] [--before ID] [--json]\n\n${PAIR_USAGE}\n  --limit N    how many (default 20, at most 500)\n  --before ID  older than event ID (for paging)`,
  options: { ...PAIR_OPTION, limit: { type: 'string' }, before: { type: 'string' } },
  async run(ctx) {
    // Usage errors before the service is asked anything.
    const limit = positiveInt(ctx.options.limit, '--limit') ?? 20;
    const before = positiveInt(ctx.options.before, '--before');
    const pair = await choosePair(ctx);
    const page = await ctx.api.events(pair, { limit, before });
    if (ctx.json) {
      ctx.out(`${JSON.stringify(page, null, 2)}\n`);
      return EXIT.ok;
    }
    const rows = page.events.map((e) => ({
      cells: [
        String(e.id),
        new Date(e.at).toISOString(),
        e.actor,
        e.action,
        e.outcome,
        [e.fromStage && e.toStage ? `${e.fromStage} -> ${e.toStage}` : (e.fromStage ?? e.toStage ?? ''), e.reason ?? ''].filter(Boolean).join(': '),
      ],
    }));
    ctx.out(renderTable(['ID', 'AT', 'WHO', 'WHAT', 'OUTCOME', 'DETAIL'], rows, ctx.columns));
    if (page.nextBefore !== null) ctx.out(`older: pgshift events --pair ${pair} --before ${page.nextBefore}\n`);
    return EXIT.ok;
  },
};

function positiveInt(value: string | boolean | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || !Number.isInteger(n) || n < 1) throw new CliError(`${option}: must be a positive whole number, got "${value}"`, EXIT.usage);
  return n;
}
