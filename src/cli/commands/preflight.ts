import { countBySeverity, PREFLIGHT_PHASES, type PreflightPhase, type PreflightReport } from '../../preflight/report.js';
import { ApiError } from '../api-client.js';
import type { CliCommand } from '../command.js';
import { CliError, EXIT } from '../errors.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { renderTable } from '../table.js';

/**
 * `pgshift preflight`: runs the pair's checks through the API (or, with --last, reads
 * the last report) and prints them. Exit 1 when a blocker exists, so scripts and CI
 * can gate on it.
 */
export const preflightCommand: CliCommand = {
  name: 'preflight',
  summary: 'check that a pair can be upgraded; exit 1 when a blocker exists',
  usage: `[--pair P] [--last | --phase prepare|prepared] [--json]

${PAIR_USAGE}
  --last    show the last report instead of running the checks again
  --phase   prepare: check a green that pgshift's prepare step has not filled yet
            (default prepared: green has the pair's databases and schema)`,
  options: {
    ...PAIR_OPTION,
    last: { type: 'boolean', default: false },
    phase: { type: 'string' },
  },
  async run(ctx) {
    const phase = parsePhase(ctx.options.phase);
    if (phase !== undefined && ctx.options.last) throw new CliError('--phase runs the checks; --last only reads the last report: give one of them', EXIT.usage);
    const pair = await choosePair(ctx);
    let report: PreflightReport;
    try {
      report = ctx.options.last ? await ctx.api.lastPreflight(pair) : await ctx.api.runPreflight(pair, phase);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'PGSHIFT_ERR_PREFLIGHT_NOT_RUN') {
        throw new CliError(`no preflight report for pair ${pair} yet: run \`pgshift preflight --pair ${pair}\``, EXIT.notOk);
      }
      throw err;
    }
    ctx.out(ctx.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report, ctx.columns));
    return report.ok ? EXIT.ok : EXIT.notOk;
  },
};

function parsePhase(value: string | boolean | undefined): PreflightPhase | undefined {
  if (value === undefined) return undefined;
  const phases = Object.values(PREFLIGHT_PHASES);
  const phase = phases.find((p) => p === value);
  if (!phase) throw new CliError(`--phase: must be one of ${phases.join(', ')}, got "${String(value)}"`, EXIT.usage);
  return phase;
}

export function formatReport(report: PreflightReport, columns = 120): string {
  const counts = countBySeverity(report.findings);
  const version = (v: PreflightReport['blue']) => v.version ?? 'unreachable';
  const ran = report.checks.filter((c) => c.outcome !== 'not-applicable').length;
  const phase = report.phase === PREFLIGHT_PHASES.prepare ? ' (phase prepare: green not prepared yet)' : '';
  const lines = [
    `Preflight of pair ${report.pair}${phase}: blue ${version(report.blue)} -> green ${version(report.green)}, ${ran} check runs in ${report.durationMs} ms (${report.finishedAt})`,
    report.ok
      ? `READY: no blocker (${counts.warning} warning(s), ${counts.info} info)`
      : `NOT READY: ${counts.blocker} blocker(s), ${counts.warning} warning(s), ${counts.info} info; pgshift will not advance past baseline`,
    '',
  ];
  if (report.findings.length === 0) return `${lines.join('\n')}\n`;
  const rows = report.findings.map((f) => {
    // Lines quoted with `| ` are SQL (the statement a trial restore saw fail): kept as they are, not wrapped.
    const lines = f.message.split('\n');
    return {
      cells: [f.severity.toUpperCase(), f.check, f.database ?? '-', f.object, lines.filter((l) => !l.startsWith('| ')).join('\n')],
      verbatim: [
        ...lines.filter((l) => l.startsWith('| ')),
        ...f.remediation.split('\n').map((line, i) => (i === 0 ? `fix: ${line}` : `     ${line}`)),
      ],
    };
  });
  return `${lines.join('\n')}\n${renderTable(['SEVERITY', 'CHECK', 'DATABASE', 'OBJECT', 'MESSAGE AND FIX'], rows, columns)}`;
}
