import * as D from '../../defaults.js';
import { describeEntry, type RestoreFailure } from '../../replication/schema-restore.js';
import { listNames, type CheckContext, type CheckDefinition, type FindingDraft } from '../check.js';
import { runTrialRestore } from '../trial-restore.js';
import { extensionsCheck } from './extensions.js';
import { encodingConversionsCheck, polymorphicsCheck, postfixOperatorsCheck } from './upgrade.js';

/**
 * A list of what changed between two majors always misses something; a restore does
 * not. Blue's schema goes through the set-up's own restore into a scratch database on
 * green (trial-restore.ts), every object on its own, and each one green refuses is a
 * blocker with green's error. Objects that failed only because an earlier one did are
 * named in that one's finding instead of each being a cause of its own, and an object a
 * pattern check (extensions, postfix operators, ...) already blocks on is left to that
 * check's finding, which has the specific fix.
 */
export const trialRestoreCheck: CheckDefinition = {
  id: 'trial-restore',
  title: "blue's schema restores on green (a trial in a scratch database)",
  scope: 'database',
  sides: ['blue', 'green'],
  // Once prepared, green holds the schema the real restore made; a trial then would only load green (the cutover's preflight runs with reads on it).
  supersededByPrepare: "prepare restored blue's schema on green",
  async run(ctx) {
    const outcome = await runTrialRestore({
      pairId: ctx.pair.id,
      blue: ctx.target('blue', ctx.database, 'admin'),
      greenAdmin: ctx.target('green', D.MAINTENANCE_DATABASE, 'admin'),
      budgetMs: ctx.trial.budgetMs,
      log: ctx.log,
      onProgress: (progress) => ctx.trial.onProgress?.(ctx.database, progress),
    });
    if (!outcome.ran) {
      return [
        {
          severity: 'warning',
          object: `role ${outcome.login}`,
          message:
            `the trial restore of blue's schema did not run: ${outcome.login} may not create a database on green, ` +
            `so whether every object restores on PostgreSQL ${ctx.green.major} is known only when prepare copies the schema`,
          remediation: `-- on green, to let preflight try the schema copy in a scratch database it drops afterwards:\nALTER ROLE ${outcome.login} CREATEDB;`,
        },
      ];
    }
    const { result } = outcome;
    const findings = await findingsOf(ctx, result.failures);
    if (result.stopped) {
      findings.push({
        severity: 'warning',
        object: `database ${ctx.database}`,
        message:
          `the trial restore stopped at its budget of ${Math.round(ctx.trial.budgetMs / 1000)} s ` +
          (outcome.database === null ? "while pg_dump read blue's schema (waiting on a lock?); nothing was tried" : `after ${result.done} of ${result.total} objects; the objects after that were not tried`),
        remediation: `Raise pairs[].preflight.trialRestoreSeconds (or run preflight when green is less busy), then run preflight again.`,
      });
    }
    return findings;
  },
};

/** The checks that know a 13 -> 14 breaker by its catalog entry, with a fix more specific than the trial's. */
const KNOWN_PATTERNS: readonly CheckDefinition[] = [extensionsCheck, postfixOperatorsCheck, polymorphicsCheck, encodingConversionsCheck];

/** A failure caused by an earlier one: green says an object that did not restore does not exist. */
const MISSING = new Set(['42P01', '42883', '42704', '3F000', '42P17']);

async function findingsOf(ctx: CheckContext, failures: readonly RestoreFailure[]): Promise<FindingDraft[]> {
  if (failures.length === 0) return [];
  const causes: { failure: RestoreFailure; consequences: string[] }[] = [];
  const causeOf = new Map<RestoreFailure, (typeof causes)[number]>();
  for (const failure of failures) {
    const earlier = MISSING.has(failure.sqlstate ?? '') ? causedBy(failure, failures.filter((f) => causeOf.has(f))) : undefined;
    const cause = earlier ? causeOf.get(earlier) : undefined;
    if (cause) {
      cause.consequences.push(describeEntry(failure.entry));
      causeOf.set(failure, cause);
    } else {
      const own = { failure, consequences: [] };
      causes.push(own);
      causeOf.set(failure, own);
    }
  }
  const known = await knownFindings(ctx);
  // A pattern check that already blocks on the object says what to do about it; repeating it would count one cause twice.
  return causes.filter(({ failure }) => !known.some((k) => sameObject(k.object, failure))).map(({ failure, consequences }) => {
    const object = describeEntry(failure.entry);
    const error =
      `${failure.message}${failure.sqlstate ? ` (SQLSTATE ${failure.sqlstate})` : ''}` +
      `${failure.detail ? `; detail: ${failure.detail}` : ''}${failure.hint ? `; hint: ${failure.hint}` : ''}`;
    const also = consequences.length > 0 ? ` Not restored because of it: ${listNames(consequences, D.PREFLIGHT_MAX_LISTED_OBJECTS)}.` : '';
    return {
      severity: 'blocker',
      object,
      message:
        `${object} does not restore on green (PostgreSQL ${ctx.green.version}): ${error.replace(/\.$/, '')}.${also} ` +
        `The statement:\n${quoteStatement(failure.entry.sql)}`,
      remediation: genericFix(failure),
    };
  });
}

/** The blockers of the pattern checks for this database; a pattern check that fails (and is reported as failed by itself) leaves its patterns out. */
async function knownFindings(ctx: CheckContext): Promise<FindingDraft[]> {
  const versions = { blueMajor: ctx.blue.major, greenMajor: ctx.green.major };
  const found = await Promise.all(
    KNOWN_PATTERNS.filter((c) => c.appliesTo?.(versions) ?? true).map((c) =>
      c.run(ctx).then(
        (drafts) => drafts.filter((d) => d.severity === 'blocker'),
        () => [],
      ),
    ),
  );
  return found.flat();
}

/** A pattern check's `operator public.!(bigint,NONE)` and the dump's OPERATOR `!(bigint, NONE)`: same kind, same bare name. */
function sameObject(knownObject: string, failure: RestoreFailure): boolean {
  const space = knownObject.indexOf(' ');
  return knownObject.slice(0, space) === failure.entry.kind.toLowerCase() && bareName(knownObject.slice(space + 1)) === bareName(failure.entry.name);
}

function bareName(name: string): string {
  const withoutArgs = name.split('(')[0]!;
  return withoutArgs.slice(withoutArgs.lastIndexOf('.') + 1).replace(/"/g, '').trim();
}

/**
 * The earlier failure a "does not exist" comes from: the one it names (as the dump
 * qualifies it, or quoted), else the last extension that failed, whose types, functions
 * and operators green then lacks under names of their own.
 */
function causedBy(failure: RestoreFailure, earlier: readonly RestoreFailure[]): RestoreFailure | undefined {
  return earlier.find((f) => mentions(failure.message, f)) ?? earlier.findLast((f) => f.entry.kind === 'EXTENSION');
}

/** Whether green's "does not exist" names the object of an earlier failure (as the dump qualifies it, or quoted). */
function mentions(message: string, earlier: RestoreFailure): boolean {
  const name = bareName(earlier.entry.name);
  return message.includes(`${earlier.entry.schema}.${name}`) || message.includes(`"${name}"`);
}

/** The statement's first lines, each quoted with `| ` (the CLI prints such lines as they are). */
function quoteStatement(sql: string): string {
  const lines = sql.split('\n');
  const shown = lines.slice(0, D.PREFLIGHT_TRIAL_STATEMENT_LINES);
  if (lines.length > shown.length) shown.push('...');
  return shown.map((line) => `| ${line}`).join('\n');
}

/** Kinds whose dump name is all DROP needs. */
const DROPPABLE = new Set(['VIEW', 'MATERIALIZED VIEW', 'FUNCTION', 'PROCEDURE', 'AGGREGATE', 'TABLE', 'INDEX', 'SEQUENCE', 'TYPE', 'DOMAIN']);

function genericFix(failure: RestoreFailure): string {
  const { kind, schema, name } = failure.entry;
  const qualified = schema === '-' ? name : `${schema}.${name}`;
  const removed = /^operator does not exist: .* (\S+\.)?[@~] /.test(failure.message)
    ? 'PostgreSQL 14 removed the containment operators @ and ~ of the geometric types and of cube, hstore, intarray and seg: write @> (contains) or <@ (is contained by) instead. '
    : '';
  const drop = DROPPABLE.has(kind) ? `\n-- or, if nothing needs it:\nDROP ${kind} ${qualified};` : '';
  return (
    `${removed}On blue, change ${kind.toLowerCase()} ${qualified} so that it no longer uses what green refuses (the error above), ` +
    `e.g. CREATE OR REPLACE with the new definition, then run preflight again.${drop}`
  );
}
