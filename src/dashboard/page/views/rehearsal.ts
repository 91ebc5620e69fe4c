import type { RehearsalRecord } from '../api.js';
import { h, type Child } from '../dom.js';
import { bytes, clock, duration, seconds } from '../format.js';
import { REHEARSAL_SLOWEST_TABLES_SHOWN } from '../../../defaults.js';
import { notRemovedHint } from '../../../rehearsal/leftovers.js';
import { findingView } from './preflight.js';

type Report = NonNullable<RehearsalRecord['report']>;
type Outcome = Report['outcome'] | 'interrupted';
type Query = Report['queries'][number];

/** The slowest tables of the initial copy shown; the report keeps them all. */

const OUTCOME_CLASS: Record<Outcome, string> = { passed: 'ok', blocked: 'bad', failed: 'bad', cancelled: 'warn', interrupted: 'warn' };
const VERDICT_CLASS: Record<Query['verdict'], string> = { same: 'ok', slower: 'unknown', 'rows-differ': 'fail', error: 'fail' };

const ms = (n: number | null) => (n === null ? 'not measured' : `${Math.round(n)} ms`);
const count = (n: number | null) => (n === null ? '–' : String(n));

/** A table: the first cell of each row heads it. */
function table(caption: string, headings: string[], rows: string[][]): HTMLElement {
  return h(
    'table',
    {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows.map(([head, ...cells]) => h('tr', {}, h('th', { scope: 'row' }, head), ...cells.map((c) => h('td', {}, c))))),
  );
}

/** A titled part of the report. */
function part(title: string, ...children: Child[]): HTMLElement {
  return h('div', { class: 'part' }, h('h3', {}, title), ...children);
}

/** The rehearsal's state in one line: status, step, initial copy, elapsed (to now while it runs). */
export function rehearsalLine(r: RehearsalRecord, now: number): string {
  const end = r.status === 'running' ? now : (r.finishedAt ?? r.heartbeatAt);
  return [
    `Rehearsal ${r.id} by ${r.actor}, started ${clock(r.startedAt)}: ${r.status}`,
    `step: ${r.step ?? 'starting'}`,
    r.copyPercent === null ? null : `initial copy: ${r.copyPercent} %`,
    `${r.status === 'running' ? 'elapsed' : 'took'}: ${duration(end - r.startedAt)}`,
  ]
    .filter(Boolean)
    .join(' · ');
}

function queryItem(q: Query): HTMLElement {
  const times = `blue ${q.blue.medianMs.toFixed(1)} ms, green ${q.green.medianMs.toFixed(1)} ms${q.ratio === null ? '' : ` (x ${q.ratio.toFixed(2)})`}`;
  const plan = (side: 'blue' | 'green') => [h('p', {}, `Plan on ${side}`), h('pre', { tabindex: 0, 'aria-label': `Plan of ${q.name} on ${side}` }, q[side].error ?? q[side].plan)];
  return h(
    'li',
    { class: VERDICT_CLASS[q.verdict] },
    h('span', { class: 'verdict' }, q.verdict),
    h('strong', {}, q.name),
    ` in ${q.database}: ${times}`,
    q.verdict === 'same' ? null : h('p', {}, q.message),
    q.verdict === 'same' ? null : h('details', {}, h('summary', {}, `Both plans of ${q.name}`), ...plan('blue'), ...plan('green')),
  );
}

/** The report of a finished rehearsal: what it found and how long everything took, as a person reads it before the real shift. */
export function rehearsalReport(report: Report): HTMLElement[] {
  const { copy, writeWindows: windows, writeLoad: load, estimate, staging } = report;
  const steps = (caption: string, list: Report['steps']) =>
    table(caption, ['Step', 'Took', 'Result'], list.map((s) => [s.step, seconds(s.seconds), s.ok ? 'ok' : `failed: ${s.error ?? 'no reason recorded'}`]));
  const window = (w: NonNullable<typeof windows>['forward']) => [`${w.from} -> ${w.to}`, ms(w.windowMs), ms(w.route53Ms), ms(w.catchUpMs), count(w.sequencesCopied), count(w.tablesValidated)];
  const parts: HTMLElement[] = [
    part(
      'Findings',
      ...(report.findings.length === 0
        ? [h('p', {}, 'No findings.')]
        : report.findings.map((f, i) => findingView({ ...f, about: f.source }, `rehearsal-remediation-${i}`, 'h4'))),
    ),
    part('Steps', steps('Each step of the rehearsal and how long it took', report.steps), report.prepareSteps.length > 0 && steps('The preparation on the staging pair, step by step', report.prepareSteps)),
  ];
  if (copy) {
    parts.push(
      part(
        'Initial copy',
        h('p', {}, `${copy.tables} tables, ${bytes(copy.bytes)} in ${seconds(copy.seconds)}${copy.bytesPerSecond === null ? '' : ` (${bytes(copy.bytesPerSecond)}/s)`}.`),
        copy.perTable.length > 0 &&
          table(
            `The slowest tables (${Math.min(REHEARSAL_SLOWEST_TABLES_SHOWN, copy.perTable.length)} of ${copy.perTable.length})`,
            ['Table', 'Database', 'Size', 'Copy took', 'Done after'],
            copy.perTable.slice(0, REHEARSAL_SLOWEST_TABLES_SHOWN).map((t) => [t.table, t.database, bytes(t.bytes), seconds(t.seconds), seconds(t.doneAfterSeconds)]),
          ),
      ),
    );
  }
  if (report.stages.length > 0) {
    parts.push(
      part(
        'Read stages',
        table('The read stages walked', ['Stage', 'Move took', 'Held'], report.stages.map((s) => [s.stage, ms(s.transitionMs), seconds(s.heldSeconds)])),
      ),
    );
  }
  parts.push(
    part(
      'Write windows',
      windows
        ? table('The write cutover and the way back (pgshift’s part, then Route 53’s)', ['Direction', 'Window', 'Route 53', 'Catch-up', 'Sequences copied', 'Tables validated'], [window(windows.forward), window(windows.back)])
        : h('p', {}, 'Not measured: the rehearsal stopped before the cutover.'),
      windows &&
        h(
          'details',
          {},
          h('summary', {}, 'Each step of both cutovers'),
          ...[windows.forward, windows.back].map((w) => table(`${w.from} -> ${w.to}, step by step`, ['Step', 'Took'], w.steps.map((s) => [s.name, ms(s.ms)]))),
        ),
      h(
        'p',
        {},
        load
          ? `Write load${load.kind === 'demo-app' ? ' (the demo application)' : ''}: ${load.ratePerSecond}/s, ${load.writes} writes acknowledged, ${load.errors} refused, longest gap ${ms(load.longestGapMs)}${load.firstError ? `; first refusal: ${load.firstError}` : ''}.`
          : 'No write load ran.',
      ),
      load?.ledger &&
        h(
          'p',
          { class: load.ledger.checkedOn !== null && load.ledger.missing + load.ledger.duplicated + load.ledger.phantom + load.ledger.sequenceReuse === 0 ? null : 'bad' },
          `Write ledger: ${load.ledger.acknowledged} acknowledged (${load.ledger.runs.map((r) => `${r.side} ${r.writes}`).join(', then ') || 'none'}), ${load.ledger.inDoubt} in doubt; ` +
            (load.ledger.checkedOn === null
              ? `not checked: ${load.ledger.checkError ?? 'no reason recorded'}.`
              : `checked on ${load.ledger.checkedOn}: ${load.ledger.missing} missing, ${load.ledger.duplicated} duplicated, ${load.ledger.phantom} phantom, ${load.ledger.sequenceReuse} sequence values reused.`),
        ),
    ),
  );
  if (report.queries.length > 0) parts.push(part('Queries', h('ul', { class: 'checks', 'aria-label': 'Queries compared' }, ...report.queries.map(queryItem))));
  parts.push(
    part(
      'Production estimate',
      h(
        'p',
        {},
        `Blue’s databases now: ${bytes(estimate.productionBytes)}; initial copy about ${seconds(estimate.initialCopySeconds)}; write window about ${seconds(estimate.writeWindowSeconds)} (with the writer record’s TTL).`,
      ),
    ),
    part(
      'Staging clusters',
      h('p', {}, staging.kept ? `Kept, as asked: ${staging.blue}, ${staging.green} (delete them when done).` : `Removed: ${staging.removed.join(', ') || 'none'}.`),
      ...staging.notRemoved.map((n) => h('p', { class: 'bad' }, `Not removed: ${n.snapshotId ?? n.clusterId}: ${n.error} (${notRemovedHint(n)}).`)),
      staging.snapshotsRemoved.length > 0 && h('p', {}, `Their cutover snapshots removed: ${staging.snapshotsRemoved.join(', ')}.`),
      h('p', {}, `DNS names ${staging.records.reader}, ${staging.records.writer}: ${staging.recordsLeft.length > 0 ? 'records left (below)' : staging.recordsRemoved.length > 0 ? 'records removed' : 'no records left'}.`),
      ...staging.recordsLeft.map((left) => h('p', { class: 'bad' }, `Record left: ${left} (delete it in the pair’s hosted zone).`)),
    ),
  );
  return parts;
}

/** A rehearsal that ended: its outcome, prominent, then its report (an interrupted one has none). */
export function rehearsalOutcome(r: RehearsalRecord): HTMLElement[] {
  const outcome: Outcome = r.report?.outcome ?? 'interrupted';
  return [
    h('p', { class: `outcome ${OUTCOME_CLASS[outcome]}` }, 'Outcome: ', h('strong', {}, outcome), r.report ? ` (snapshot ${r.report.snapshot ?? 'none'})` : null),
    ...(r.report ? rehearsalReport(r.report) : [h('p', {}, 'The pgshift process running it ended; its staging clusters are removed at the next start.')]),
  ];
}
