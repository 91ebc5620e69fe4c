import type { CliCommand } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';

/**
 * `pgshift schema sync [--apply]`: what green lacks of blue's schema, as DDL; with
 * --apply run on green and the subscription refreshed. Exit 1 when differences are
 * left for a person (their SQL is printed).
 */
export const schemaCommand: CliCommand = {
  name: 'schema',
  summary: "show (sync) or apply (sync --apply) the DDL green lacks of blue's schema",
  usage: `sync [--pair P] [--apply] [--json]

${PAIR_USAGE}
  --apply   run the DDL on green and refresh the subscription (default: only show it)`,
  options: { ...PAIR_OPTION, apply: { type: 'boolean', default: false } },
  subcommands: ['sync'],
  async run(ctx) {
    if (ctx.args[0] !== 'sync') throw new CliError('usage: pgshift schema sync [--pair P] [--apply] [--json]', EXIT.usage);
    const pair = await choosePair(ctx);
    const apply = ctx.options.apply === true;
    const report = await ctx.api.syncSchema(pair, apply);
    const manual = report.databases.flatMap((d) => d.manual.map((m) => ({ database: d.database, ...m })));
    if (ctx.json) {
      ctx.out(`${JSON.stringify(report, null, 2)}\n`);
    } else {
      const lines: string[] = [];
      for (const db of report.databases) {
        if (db.statements.length === 0) lines.push(`${db.database}: nothing to create on green`);
        else lines.push(`${db.database}: ${apply ? 'ran on green' : 'would run on green (--apply to run it)'}:`, ...db.statements.map((s) => `  ${s}`));
        if (db.refreshed) lines.push(`  subscription refreshed; new tables copied: ${db.newTables.join(', ') || 'none'}`);
      }
      for (const m of manual) lines.push(`${m.database}: not repaired by pgshift: ${m.difference}`, `  ${m.sql}`);
      ctx.out(`${lines.join('\n')}\n`);
    }
    return manual.length > 0 ? EXIT.notOk : EXIT.ok;
  },
};
