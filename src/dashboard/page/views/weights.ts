import type { PairDetail } from '../api.js';
import { h } from '../dom.js';
import { clock, percent } from '../format.js';

/** Per record, the weights the stage wants next to those Route 53 held when last read. */
export function weightsTable(view: PairDetail): HTMLElement[] {
  const rows = (['reader', 'writer'] as const).map((record) => {
    const wanted = view.weights?.[record];
    const seen = view.observed?.[record];
    const differs = !!wanted && !!seen && (wanted.blue !== seen.blue || wanted.green !== seen.green);
    return h(
      'tr',
      { 'data-record': record, class: differs ? 'differs' : null },
      h('th', { scope: 'row' }, record),
      h('td', {}, percent(wanted?.blue)),
      h('td', {}, percent(wanted?.green)),
      h('td', { class: 'seen-blue' }, seen ? percent(seen.blue) : 'missing'),
      h('td', { class: 'seen-green' }, seen ? percent(seen.green) : 'missing'),
    );
  });
  return [
    h(
      'table',
      { class: 'weights' },
      h('caption', {}, `Route 53 weights, wanted by ${view.stage} and seen ${view.observed ? clock(view.observed.at) : 'never'}`),
      h(
        'thead',
        {},
        h('tr', {}, h('th', { scope: 'col' }, 'Record'), h('th', { scope: 'col' }, 'Blue wanted'), h('th', { scope: 'col' }, 'Green wanted'), h('th', { scope: 'col' }, 'Blue seen'), h('th', { scope: 'col' }, 'Green seen')),
      ),
      h('tbody', {}, ...rows),
    ),
  ];
}
