import type { PairDetail } from './api.js';

/**
 * Whether advancing from here is the write cutover: the pair is at the last read stage,
 * the one the plan's `cutover` follows. The page shows that advance as its own button.
 */
export function cutoverIsNext(view: Pick<PairDetail, 'stages' | 'stage'>): boolean {
  const at = view.stages.indexOf('cutover');
  return at > 0 && view.stages[at - 1] === view.stage;
}
