import * as D from '../../defaults.js';
import type { Intent } from '../../shift/state.js';
import type { PreparationView } from '../../shift/view-schemas.js';
import type { CliCommand, CommandContext } from '../command.js';
import { EXIT, type ExitCode } from '../errors.js';
import type { IntentBody } from '../api-client.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { refused } from './intents.js';

/**
 * `pgshift prepare`: asks the service to make green ready and follows it to the end,
 * which for a large database is the initial copy's hours: a line that rewrites itself
 * on a terminal, a line every few seconds otherwise. Exit 0 prepared, 1 refused or
 * cancelled (with the reasons), 3 service error.
 */
export const prepareCommand: CliCommand = {
  name: 'prepare',
  summary: 'make green ready: preflight, roles, schema, replication and the initial copy, with progress',
  usage: `[--pair P] [--reason TEXT] [--no-wait] [--json]

${PAIR_USAGE}
  --reason TEXT   recorded in the audit log
  --no-wait       return once the request is recorded (follow it with pgshift status)`,
  options: { ...PAIR_OPTION, reason: { type: 'string' }, 'no-wait': { type: 'boolean', default: false } },
  async run(ctx): Promise<ExitCode> {
    const pair = await choosePair(ctx);
    const body: IntentBody = typeof ctx.options.reason === 'string' ? { reason: ctx.options.reason } : {};
    let intent;
    try {
      ({ intent } = await ctx.api.requestIntent(pair, 'prepare', body, false));
    } catch (err) {
      return refused(ctx, err);
    }
    if (ctx.options['no-wait'] === true) {
      ctx.out(ctx.json ? `${JSON.stringify({ intent }, null, 2)}\n` : `prepare of ${pair} recorded (intent ${intent.id}); follow it with: pgshift status --pair ${pair}\n`);
      return EXIT.ok;
    }
    const line = progressLine(ctx);
    while (intent.status === 'pending') {
      await new Promise((resolve) => setTimeout(resolve, D.CLI_PROGRESS_POLL_MS));
      const view = await ctx.api.pair(pair);
      if (!ctx.json) line.show(describePreparation(pair, view.preparation, view.stage));
      ({ intent } = await ctx.api.intent(pair, intent.id));
    }
    line.end();
    return finished(ctx, pair, intent);
  },
};

function finished(ctx: CommandContext, pair: string, intent: Intent): ExitCode {
  const result = (intent.result ?? {}) as { reason?: string; note?: string; details?: { blockers?: { message: string }[] } | null };
  if (ctx.json) ctx.out(`${JSON.stringify({ intent }, null, 2)}\n`);
  else if (intent.status === 'done') ctx.out(`prepare of ${pair}: ${result.note ?? 'done; green follows blue, the pair is at baseline'}\n`);
  else if (intent.status === 'rejected') {
    const blockers = result.details?.blockers ?? [];
    ctx.out(`refused: ${result.reason ?? 'prepare was refused'}\n${blockers.map((b) => `  - ${b.message}\n`).join('')}nothing pgshift made on green is left; fix the above and run pgshift prepare again\n`);
  } else ctx.out(`prepare of ${pair} did not complete: ${result.reason ?? 'rolled back'}; what it made on green was removed\n`);
  return intent.status === 'done' ? EXIT.ok : EXIT.notOk;
}

/** One line of where the preparation stands: its step, and once copying, tables, bytes, rate and time left. */
export function describePreparation(pair: string, preparation: PreparationView | null, stage: string): string {
  if (!preparation) return `prepare of ${pair}: waiting for the controller (stage ${stage})`;
  const head = `preparing ${pair}: ${preparation.step} (${preparation.stepsDone}/${preparation.stepsTotal} steps done)`;
  const p = preparation.progress;
  if (!p) return head;
  if (p.objects) return `${head} · trial restore of ${p.objects.database}: ${p.objects.done}/${p.objects.total} objects`;
  const parts = [`${p.tablesDone}/${p.tablesTotal} tables`, `${bytes(p.bytesDone)} of ${bytes(p.bytesTotal)}`];
  if (p.bytesPerSecond !== null) parts.push(`${bytes(p.bytesPerSecond)}/s`);
  if (p.etaSeconds !== null) parts.push(`about ${duration(p.etaSeconds)} left`);
  return `${head} · ${parts.join(' · ')}`;
}

/** On a terminal the line rewrites itself; elsewhere (a log, a pipe) a line is printed when it changes, at most every few seconds. */
function progressLine(ctx: CommandContext): { show(text: string): void; end(): void } {
  let last = '';
  let printedAt = 0;
  let drawn = false;
  return {
    show(text) {
      if (ctx.columns !== undefined) {
        const fitted = text.length > ctx.columns - 1 ? `${text.slice(0, ctx.columns - 2)}…` : text;
        ctx.out(`\r${fitted.padEnd(Math.max(last.length, fitted.length))}`);
        last = fitted;
        drawn = true;
      } else if (text !== last && Date.now() - printedAt >= D.CLI_PROGRESS_LINE_MS) {
        ctx.out(`${text}\n`);
        last = text;
        printedAt = Date.now();
      }
    },
    end() {
      if (drawn) ctx.out('\n');
    },
  };
}

function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
