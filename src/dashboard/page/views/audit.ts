import type { EventsPage } from '../api.js';
import { h } from '../dom.js';
import { clock } from '../format.js';

type AuditEvent = EventsPage['events'][number];

/** The audit log, newest first: when, who, what (and the stages), the outcome, why. */
export function auditTable(events: AuditEvent[]): HTMLElement[] {
  if (events.length === 0) return [h('p', {}, 'Nothing recorded yet.')];
  return [
    h(
      'table',
      { class: 'audit' },
      h('caption', { class: 'visually-hidden' }, 'Audit log, newest first'),
      h('thead', {}, h('tr', {}, ...['When', 'Who', 'What', 'Outcome', 'Why'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        ...events.map((e) =>
          h(
            'tr',
            { class: e.outcome === 'ok' || e.outcome === 'info' ? null : 'bad' },
            h('td', {}, clock(e.at)),
            h('td', {}, e.actor),
            h('td', {}, e.action + (e.fromStage || e.toStage ? ` ${e.fromStage ?? '?'} -> ${e.toStage ?? '?'}` : '')),
            h('td', {}, e.outcome),
            h('td', {}, e.reason ?? ''),
          ),
        ),
      ),
    ),
  ];
}
