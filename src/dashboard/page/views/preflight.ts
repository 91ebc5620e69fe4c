import type { PreflightReport } from '../api.js';
import { h } from '../dom.js';
import { clock } from '../format.js';

/** The last preflight report: each finding with its remediation, copyable. */
export function preflightView(report: PreflightReport | null): HTMLElement[] {
  if (!report) return [h('p', {}, 'No preflight report yet.')];
  const findings = report.findings;
  return [
    h('p', { class: report.ok ? 'ok' : 'bad' }, `${report.ok ? 'No blocker' : 'Blockers found'}: ${findings.length} finding(s), checked ${clock(report.finishedAt)}${report.phase ? ` (phase ${report.phase})` : ''}.`),
    ...findings.map((f, i) => {
      const id = `remediation-${i}`;
      const status = h('span', { class: 'copied', role: 'status' });
      const copy = h('button', { type: 'button', 'aria-describedby': id }, 'Copy remediation');
      copy.addEventListener('click', () => {
        navigator.clipboard.writeText(f.remediation).then(
          () => (status.textContent = 'copied'),
          () => (status.textContent = 'copy refused by the browser: select the text'),
        );
      });
      return h(
        'article',
        { class: `finding ${f.severity}` },
        h('h3', {}, `${f.severity}: ${f.object}${f.database ? ` in ${f.database}` : ''}`),
        h('p', {}, f.message),
        h('pre', { id, tabindex: 0, 'aria-label': `Remediation for ${f.object}` }, h('code', {}, f.remediation)),
        copy,
        status,
      );
    }),
  ];
}
