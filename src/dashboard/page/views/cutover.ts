import type { PairDetail } from '../api.js';
import { h } from '../dom.js';
import { clock, duration } from '../format.js';

/** A write cutover under way (its steps, the current one, elapsed time, how long writes have been frozen) and the last write window. */
export function cutoverView(view: PairDetail, now: number): HTMLElement[] {
  const c = view.cutover;
  const parts: HTMLElement[] = [];
  if (c) {
    const at = c.steps.indexOf(c.step);
    parts.push(
      h('p', {}, `Cutover ${c.direction} running for ${duration(now - c.startedAt)}; step ${Math.min(c.stepsDone + 1, c.stepsTotal)} of ${c.stepsTotal}: ${c.step}${c.committed ? ' (past the writer flip: it finishes)' : ''}.`),
      h('p', { class: c.frozenAt ? 'warn' : null }, c.frozenAt ? `Writes frozen for ${duration(now - c.frozenAt)}.` : 'Writes not frozen yet.'),
      h(
        'ol',
        { class: 'steps', 'aria-label': 'Cutover steps' },
        ...c.steps.map((step, i) =>
          h('li', { class: i < at ? 'done' : i === at ? 'current' : null, 'aria-current': i === at ? 'step' : null }, step),
        ),
      ),
    );
  } else {
    parts.push(h('p', {}, 'No write cutover is running.'));
  }
  const w = view.lastWriteWindow;
  parts.push(
    h(
      'p',
      {},
      w
        ? `Last write window (${w.direction}, ${clock(w.at)}): pgshift ${w.pgshiftMs} ms + Route 53 ${w.route53Ms === null ? 'not measured' : `${w.route53Ms} ms`}.`
        : 'No write cutover has landed yet.',
    ),
  );
  return parts;
}
