import { readFile } from 'node:fs/promises';
import Value from 'typebox/value';
import Type from 'typebox';
import YAML from 'yaml';
import * as D from '../../defaults.js';
import { RehearsalQuerySchema, type RehearsalQuery } from '../../rehearsal/queries.js';
import { notRemovedHint } from '../../rehearsal/leftovers.js';
import type { RehearsalRecord } from '../../rehearsal/store.js';
import type { CliCommand } from '../command.js';
import { CliError, EXIT, type ExitCode } from '../errors.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { refused } from './intents.js';

const QueryFileSchema = Type.Array(RehearsalQuerySchema, { maxItems: D.REHEARSAL_MAX_QUERIES });

/**
 * `pgshift rehearse`: starts a rehearsal of the pair on staging copies (or shows the
 * last, or cancels one) and, with --follow, prints its steps until it ends, then the
 * report. Exit 0 when it passed, 1 when it found a blocker, failed or was cancelled.
 */
export const rehearseCommand: CliCommand = {
  name: 'rehearse',
  summary: 'rehearse the upgrade on staging copies from a snapshot: preflight, the initial copy, your queries compared, the read stages, the cutover and the way back',
  usage: `[--pair P] [--queries FILE] [--snapshot ID] [--bake SECONDS] [--write-rate N] [--keep] [--follow] [--json]
       [--pair P] --last [--json]
       [--pair P] --cancel ID

${PAIR_USAGE}
  --queries FILE  a YAML or JSON list of { name, sql, params?, database? }: read-only
                  statements run on staging blue and green and compared
  --snapshot ID   blue's cluster snapshot to restore (default: blue's newest pgshift
                  snapshot, taken now when there is none)
  --bake SECONDS  each read stage's bake time on the staging pair (default 5)
  --write-rate N  writes per second of the load from the first read stage to the
                  way back (default 10; 0: none)
  --keep          leave the staging clusters in place afterwards
  --follow        print the steps until the rehearsal ends, then its report
  --last          show the pair's newest rehearsal
  --cancel ID     cancel a running rehearsal (its staging clusters are still removed)`,
  options: {
    ...PAIR_OPTION,
    queries: { type: 'string' },
    snapshot: { type: 'string' },
    bake: { type: 'string' },
    'write-rate': { type: 'string' },
    keep: { type: 'boolean', default: false },
    follow: { type: 'boolean', default: false },
    last: { type: 'boolean', default: false },
    cancel: { type: 'string' },
  },
  async run(ctx): Promise<ExitCode> {
    const pair = await choosePair(ctx);
    let record: RehearsalRecord;
    try {
      if (typeof ctx.options.cancel === 'string') {
        record = await ctx.api.cancelRehearsal(pair, ctx.options.cancel);
        ctx.out(ctx.json ? `${JSON.stringify(record, null, 2)}\n` : `cancel of rehearsal ${record.id} asked; its staging clusters are removed\n`);
        return EXIT.ok;
      }
      if (ctx.options.last === true) {
        record = await ctx.api.rehearsal(pair, 'latest');
      } else {
        const queries = typeof ctx.options.queries === 'string' ? await readQueries(ctx.options.queries) : undefined;
        record = await ctx.api.startRehearsal(pair, {
          ...(typeof ctx.options.snapshot === 'string' ? { snapshot: ctx.options.snapshot } : {}),
          ...(ctx.options.keep === true ? { keep: true } : {}),
          ...numberOption(ctx.options.bake, '--bake', 'bakeSeconds'),
          ...numberOption(ctx.options['write-rate'], '--write-rate', 'writeRate'),
          ...(queries ? { queries } : {}),
        });
        if (!ctx.json) ctx.out(`rehearsal ${record.id} of ${pair} started\n`);
      }
    } catch (err) {
      return refused(ctx, err);
    }
    if (ctx.options.follow === true) {
      let shown = '';
      while (record.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, D.CLI_PROGRESS_POLL_MS));
        record = await ctx.api.rehearsal(pair, record.id);
        const line = describeRehearsal(record);
        // The end's line heads the report printed next.
        if (!ctx.json && line !== shown && record.status === 'running') ctx.out(`${line}\n`);
        shown = line;
      }
    }
    ctx.out(ctx.json ? `${JSON.stringify(record, null, 2)}\n` : formatRehearsal(record));
    if (record.status === 'running') return EXIT.ok;
    return record.report?.outcome === 'passed' ? EXIT.ok : EXIT.notOk;
  },
};

/** A number flag as the request's field, in the API's range (refused here, naming the flag). */
function numberOption(value: unknown, flag: string, field: 'bakeSeconds' | 'writeRate'): Partial<Record<typeof field, number>> {
  if (typeof value !== 'string') return {};
  const parsed = Number(value);
  const max = field === 'bakeSeconds' ? D.REHEARSAL_MAX_BAKE_SECONDS : D.REHEARSAL_MAX_WRITE_RATE;
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new CliError(`${flag} ${value}: not a number`, EXIT.usage);
  if (parsed < 0 || parsed > max) throw new CliError(`${flag} ${value}: from 0 to ${max}`, EXIT.usage);
  return { [field]: parsed };
}

async function readQueries(path: string): Promise<RehearsalQuery[]> {
  let parsed: unknown;
  try {
    parsed = YAML.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CliError(`--queries ${path}: ${(err as Error).message}`, EXIT.usage);
  }
  if (!Value.Check(QueryFileSchema, parsed)) {
    const first = [...Value.Errors(QueryFileSchema, parsed)][0];
    throw new CliError(`--queries ${path}: not a list of { name, sql, params?, database? }${first ? ` (${first.instancePath || '/'}: ${first.message})` : ''}`, EXIT.usage);
  }
  return parsed;
}

export function describeRehearsal(r: RehearsalRecord): string {
  const elapsed = Math.round(((r.finishedAt ?? r.heartbeatAt) - r.startedAt) / 1000);
  const copy = r.copyPercent === null ? '' : ` · initial copy ${r.copyPercent} %`;
  return `rehearsal ${r.id} of ${r.pair}: ${r.status}${r.step ? ` · ${r.step}` : ''}${copy} · ${elapsed} s`;
}

/** A table's name, prefixed with its database when the pair has several. */
function tableName(t: { database: string; table: string }, databases: number): string {
  return databases > 1 ? `${t.database}/${t.table}` : t.table;
}

export function formatRehearsal(r: RehearsalRecord): string {
  const lines = [describeRehearsal(r)];
  const report = r.report;
  if (r.status === 'interrupted') lines.push('interrupted: the pgshift process running it ended; its staging clusters are removed at the next start');
  if (!report) return `${lines.join('\n')}\n`;
  lines.push(`outcome: ${report.outcome.toUpperCase()} (snapshot ${report.snapshot ?? 'none'})`);
  lines.push(`steps: ${report.steps.map((s) => `${s.step} ${s.seconds.toFixed(1)} s${s.ok ? '' : ' FAILED'}`).join(', ')}`);
  if (report.copy) {
    lines.push(`initial copy: ${report.copy.tables} tables, ${report.copy.bytes} bytes in ${report.copy.seconds.toFixed(1)} s (${report.copy.bytesPerSecond ?? '?'} B/s)`);
    const slowest = report.copy.perTable.slice(0, D.REHEARSAL_SLOWEST_TABLES_SHOWN);
    if (slowest.length > 0) lines.push(`  slowest tables: ${slowest.map((t) => `${tableName(t, report.copy!.databases.length)} ${t.bytes} bytes ${t.seconds.toFixed(1)} s (done after ${t.doneAfterSeconds.toFixed(1)} s)`).join(', ')}`);
  }
  if (report.estimate.productionBytes !== null) {
    lines.push(`estimate for production: ${report.estimate.productionBytes} bytes, initial copy about ${report.estimate.initialCopySeconds ?? '?'} s`);
  }
  if (report.stages.length > 0) {
    lines.push(`read stages: ${report.stages.map((s) => `${s.stage} (moved in ${s.transitionMs} ms, held ${s.heldSeconds.toFixed(1)} s)`).join(', ')}`);
  }
  const windows = report.writeWindows;
  if (windows) {
    const route53 = (w: typeof windows.forward) => (w.route53Ms === null ? '' : ` + Route 53 ${w.route53Ms} ms`);
    lines.push(
      `write windows (pgshift's part): to green ${windows.forward.windowMs} ms${route53(windows.forward)}, back to blue ${windows.back.windowMs} ms${route53(windows.back)}; production estimate ${report.estimate.writeWindowSeconds ?? '?'} s with the writer record's TTL`,
    );
    for (const w of [windows.forward, windows.back]) lines.push(`  cutover ${w.from} -> ${w.to}: ${w.steps.map((s) => `${s.name} ${s.ms} ms`).join(', ')}`);
  } else {
    lines.push('write windows: not measured (the rehearsal stopped before the cutover)');
  }
  if (report.writeLoad) {
    const load = report.writeLoad;
    lines.push(`write load${load.kind === 'demo-app' ? ' (the demo application)' : ''}: ${load.ratePerSecond}/s, ${load.writes} writes acknowledged, ${load.errors} refused, longest gap ${load.longestGapMs} ms`);
    const ledger = load.ledger;
    if (ledger) {
      const runs = ledger.runs.map((r) => `${r.side} ${r.writes}`).join(', then ');
      lines.push(
        `write ledger: ${ledger.acknowledged} acknowledged (${runs || 'none'}), ${ledger.inDoubt} in doubt; ` +
          (ledger.checkedOn === null
            ? `NOT CHECKED: ${ledger.checkError ?? 'no reason recorded'}`
            : `checked on ${ledger.checkedOn}: ${ledger.missing} missing, ${ledger.duplicated} duplicated, ${ledger.phantom} phantom, ${ledger.sequenceReuse} sequence values reused`),
      );
    }
  }
  for (const q of report.queries) lines.push(`query ${q.verdict.toUpperCase()}: ${q.message}`);
  for (const f of report.findings) lines.push(`${f.severity.toUpperCase()} (${f.source}): ${f.message}${f.remediation ? `\n  fix: ${f.remediation.split('\n').join('\n       ')}` : ''}`);
  lines.push(report.staging.kept ? `staging clusters kept: ${report.staging.blue}, ${report.staging.green}` : `staging clusters removed: ${report.staging.removed.join(', ') || 'none'}`);
  if (report.staging.snapshotsRemoved.length > 0) lines.push(`their cutover snapshots removed: ${report.staging.snapshotsRemoved.join(', ')}`);
  for (const n of report.staging.notRemoved) lines.push(`NOT REMOVED: ${n.snapshotId ?? n.clusterId}: ${n.error} (${notRemovedHint(n)})`);
  if (report.staging.recordsRemoved.length > 0) lines.push(`staging records removed: ${report.staging.records.reader}, ${report.staging.records.writer}`);
  for (const left of report.staging.recordsLeft) lines.push(`RECORD LEFT: ${left} (delete it in the pair's hosted zone)`);
  return `${lines.join('\n')}\n`;
}
