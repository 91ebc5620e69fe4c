import type { PreflightReport } from '../api.js';
import { h } from '../dom.js';
import { clock } from '../format.js';

export interface FindingShown {
  severity: 'blocker' | 'warning' | 'info';
  /** Its heading after the severity: what it is about. */
  about: string;
  message: string;
  remediation?: string | undefined;
}

/**
 * One finding: severity and subject as a heading, the message, and the remediation (when
 * there is one) with a button that copies it. `id` must be unique on the page.
 */
export function findingView(f: FindingShown, id: string, heading: 'h3' | 'h4' = 'h3'): HTMLElement {
  let fix: HTMLElement[] = [];
  if (f.remediation !== undefined) {
    const remediation = f.remediation;
    const status = h('span', { class: 'copied', role: 'status' });
    const copy = h('button', { type: 'button', 'aria-describedby': id }, 'Copy remediation');
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(remediation).then(
        () => (status.textContent = 'copied'),
        () => (status.textContent = 'copy refused by the browser: select the text'),
      );
    });
    fix = [h('pre', { id, tabindex: 0, 'aria-label': `Remediation for ${f.about}` }, h('code', {}, remediation)), copy, status];
  }
  return h('article', { class: `finding ${f.severity}` }, h(heading, {}, `${f.severity}: ${f.about}`), h('p', {}, f.message), ...fix);
}

/** The last preflight report: each finding with its remediation, copyable. */
export function preflightView(report: PreflightReport | null): HTMLElement[] {
  if (!report) return [h('p', {}, 'No preflight report yet.')];
  const findings = report.findings;
  return [
    h('p', { class: report.ok ? 'ok' : 'bad' }, `${report.ok ? 'No blocker' : 'Blockers found'}: ${findings.length} finding(s), checked ${clock(report.finishedAt)}${report.phase ? ` (phase ${report.phase})` : ''}.`),
    ...findings.map((f, i) => findingView({ ...f, about: `${f.object}${f.database ? ` in ${f.database}` : ''}` }, `remediation-${i}`)),
  ];
}
