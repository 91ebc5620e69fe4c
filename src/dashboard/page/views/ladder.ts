import type { PairDetail } from '../api.js';
import { h } from '../dom.js';
import { duration } from '../format.js';

/** The stages in order with the current one marked, what the next advance does (the API's words) and the bake time left. */
export function stageLadder(view: PairDetail, now: number): HTMLElement[] {
  const steps = view.stages.map((stage) => {
    const current = stage === view.stage;
    return h('li', { class: current ? 'current' : null, 'aria-current': current ? 'step' : null }, stage);
  });
  const advance = view.actions.advance;
  const bakeLeft = view.stageEnteredAt + view.bakeSeconds * 1000 - now;
  return [
    h('ol', { class: 'ladder', 'aria-label': 'Stages' }, ...steps),
    h('p', { class: 'next' }, `Next advance: ${advance.effect}${advance.allowed ? '' : ` (not now: ${advance.reason ?? 'refused'})`}.`),
    h(
      'p',
      { class: 'bake' },
      bakeLeft > 0 ? `Bake time left at ${view.stage}: ${duration(bakeLeft)} (of ${view.bakeSeconds} s).` : `Baked: ${duration(now - view.stageEnteredAt)} at ${view.stage} (minimum ${view.bakeSeconds} s).`,
    ),
  ];
}
