import type { PairDetail, RehearsalRecord, Session } from './api.js';
import { cutoverIsNext } from './stages.js';

export type ActionName = 'advance' | 'cutover' | 'revert' | 'pause' | 'resume' | 'finalize';

/** One button: whether it may be pressed now, why not otherwise, and what it will do. */
export interface ActionState {
  name: ActionName;
  label: string;
  enabled: boolean;
  /** Why it is disabled; null when enabled. */
  reason: string | null;
  /** What pressing it does, for its confirmation dialog. */
  effect: string;
}

export const VIEWER_REASON = 'viewer: read-only';

const LABELS: Record<ActionName, string> = {
  advance: 'Advance',
  cutover: 'Cut over',
  revert: 'Revert',
  pause: 'Pause',
  resume: 'Resume',
  finalize: 'Finalize',
};

/**
 * The pair page's buttons from the API's own answer (`actions`: allowed, effect, reason,
 * decided by the controller's rules). The write cutover is the API's advance from the
 * last read stage; the page gives it a button of its own so that nobody moves writes
 * thinking they move reads. A viewer can press nothing.
 */
export function actionStates(view: PairDetail, role: Session['role']): ActionState[] {
  const a = view.actions;
  const cutoverNext = cutoverIsNext(view);
  const state = (name: ActionName, action: { allowed: boolean; effect: string; reason: string | null }, refusal: string | null = null): ActionState => {
    const reason = role !== 'operator' ? VIEWER_REASON : (refusal ?? (action.allowed ? null : (action.reason ?? 'refused')));
    return { name, label: LABELS[name], enabled: reason === null, reason, effect: `${LABELS[name]} ${view.id}: ${action.effect}.` };
  };
  return [
    state('advance', a.advance, cutoverNext ? 'the next step is the write cutover: use "Cut over"' : null),
    state('cutover', a.advance, cutoverNext ? null : `the write cutover starts from the last read stage; the pair is at ${view.stage}`),
    state('revert', a.revert),
    state('pause', a.pause),
    state('resume', a.resume),
    state('finalize', a.finalize),
  ];
}

/** Whether a button may be pressed now, and why not otherwise. */
export interface Permission {
  enabled: boolean;
  /** Why it is disabled; null when enabled. */
  reason: string | null;
}

/**
 * The rehearsal's buttons from the pair's newest rehearsal: Rehearse unless one is
 * running (one at a time per pair), Cancel while one is. A viewer can press neither.
 */
export function rehearsalPermissions(latest: Pick<RehearsalRecord, 'id' | 'status'> | null, role: Session['role']): { rehearse: Permission; cancel: Permission } {
  const running = latest?.status === 'running';
  const permit = (refusal: string | null): Permission => {
    const reason = role !== 'operator' ? VIEWER_REASON : refusal;
    return { enabled: reason === null, reason };
  };
  return {
    rehearse: permit(running ? `rehearsal ${latest.id} is running: one at a time` : null),
    cancel: permit(running ? null : 'no rehearsal is running'),
  };
}
