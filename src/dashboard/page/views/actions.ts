import type { ActionName, ActionState } from '../actions.js';
import { h, setText } from '../dom.js';

export interface ActionRequest {
  action: ActionName;
  reason: string;
}

export interface ActionBar {
  element: HTMLElement;
  /** Enables and explains each button from the pair's current view. */
  update(states: ActionState[]): void;
  /** Shows how the last request ended. */
  report(message: string, ok: boolean): void;
}

/**
 * The pair's buttons. Each opens a <dialog> that says what the action will do and asks
 * for an optional reason; only its confirm button sends anything. A disabled button
 * keeps its reason next to it (and as its description), so nobody has to guess.
 */
export function actionBar(perform: (request: ActionRequest) => Promise<void>): ActionBar {
  const buttons = new Map<ActionName, { button: HTMLButtonElement; why: HTMLElement; state: ActionState | null }>();
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });

  const effect = h('p', { id: 'confirm-effect' });
  const reason = h('input', { id: 'confirm-reason', type: 'text', maxlength: 500, autocomplete: 'off' });
  const confirm = h('button', { type: 'submit', value: 'confirm', class: 'danger' }, 'Confirm');
  const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
  const title = h('h2', { id: 'confirm-title' });
  const form = h(
    'form',
    { method: 'dialog' },
    title,
    effect,
    h('label', { for: 'confirm-reason' }, 'Reason (for the audit log, optional)'),
    reason,
    h('div', { class: 'buttons' }, cancel, confirm),
  );
  const dialog = h('dialog', { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-effect' }, form);
  let pending: ActionName | null = null;
  cancel.addEventListener('click', () => dialog.close('cancel'));
  dialog.addEventListener('close', () => {
    const action = pending;
    pending = null;
    if (dialog.returnValue !== 'confirm' || !action) return;
    const entry = buttons.get(action)!;
    entry.button.disabled = true;
    setText(result, `${entry.state?.label ?? action}: sent, waiting for the outcome…`);
    void perform({ action, reason: reason.value.trim() });
  });

  const open = (state: ActionState) => {
    pending = state.name;
    setText(result, '');
    setText(title, `${state.label}?`);
    setText(effect, state.effect);
    setText(confirm, state.label);
    reason.value = '';
    dialog.returnValue = '';
    dialog.showModal();
    reason.focus();
  };

  const list = h('ul', { class: 'actions' });
  for (const name of ['advance', 'cutover', 'revert', 'pause', 'resume', 'finalize'] as const) {
    const why = h('span', { class: 'why', id: `why-${name}` });
    const button = h('button', { type: 'button', 'data-action': name, 'aria-describedby': `why-${name}`, disabled: true }, name);
    const entry = { button, why, state: null as ActionState | null };
    button.addEventListener('click', () => {
      if (entry.state?.enabled) open(entry.state);
    });
    buttons.set(name, entry);
    list.append(h('li', {}, button, why));
  }

  return {
    element: h('div', { class: 'action-bar' }, list, result, dialog),
    update(states) {
      for (const state of states) {
        const entry = buttons.get(state.name)!;
        entry.state = state;
        setText(entry.button, state.label);
        if (pending === null) entry.button.disabled = !state.enabled;
        setText(entry.why, state.enabled ? '' : state.reason ?? '');
      }
    },
    report(message, ok) {
      setText(result, message);
      result.classList.toggle('bad', !ok);
    },
  };
}
