import type { PairDetail } from '../api.js';
import { h } from '../dom.js';

/** Every guard of advancing and every signal, each with the API's sentence saying why it holds or fails. */
export function guardList(view: PairDetail): HTMLElement[] {
  return [
    h(
      'ul',
      { class: 'checks', 'aria-label': 'Guards of advancing' },
      ...view.guards.map((g) => h('li', { class: g.ok ? 'ok' : 'fail' }, h('span', { class: 'verdict' }, g.ok ? 'holds' : 'fails'), h('strong', {}, g.name), ` ${g.detail}`)),
    ),
  ];
}

export function signalList(view: PairDetail): HTMLElement[] {
  if (view.signals.length === 0) return [h('p', {}, 'No signal sampled yet.')];
  return [
    h(
      'ul',
      { class: 'checks', 'aria-label': 'Signals' },
      ...view.signals.map((s) =>
        h(
          'li',
          { class: s.state === 'healthy' ? 'ok' : s.state === 'breached' ? 'fail' : 'unknown' },
          h('span', { class: 'verdict' }, s.state),
          // The summary names the signal and its side, with the value and the limit.
          s.summary,
        ),
      ),
    ),
  ];
}
