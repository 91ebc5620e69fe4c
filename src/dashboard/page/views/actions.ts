import type { ActionName, ActionState } from '../actions.js';
import { h, setText } from '../dom.js';
import { confirmDialog } from './confirm.js';

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

/** A button that keeps the reason it is disabled next to it (and as its description), so nobody has to guess. */
export function explainedButton(name: string): { item: HTMLLIElement; button: HTMLButtonElement; why: HTMLElement } {
  const why = h('span', { class: 'why', id: `why-${name}` });
  const button = h('button', { type: 'button', 'data-action': name, 'aria-describedby': `why-${name}`, disabled: true }, name);
  return { item: h('li', {}, button, why), button, why };
}

/**
 * The pair's buttons. Each opens a <dialog> that says what the action will do and asks
 * for an optional reason; only its confirm button sends anything. A disabled button
 * keeps its reason next to it.
 */
export function actionBar(perform: (request: ActionRequest) => Promise<void>): ActionBar {
  const buttons = new Map<ActionName, { button: HTMLButtonElement; why: HTMLElement; state: ActionState | null }>();
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const dialog = confirmDialog('confirm', { reason: true });
  let pending: ActionName | null = null;

  const open = async (state: ActionState) => {
    pending = state.name;
    setText(result, '');
    const reason = await dialog.ask({ title: `${state.label}?`, effect: state.effect, label: state.label });
    pending = null;
    if (reason === null) return;
    buttons.get(state.name)!.button.disabled = true;
    setText(result, `${state.label}: sent, waiting for the outcome…`);
    void perform({ action: state.name, reason });
  };

  const list = h('ul', { class: 'actions' });
  for (const name of ['advance', 'cutover', 'revert', 'pause', 'resume', 'finalize'] as const) {
    const { item, button, why } = explainedButton(name);
    const entry = { button, why, state: null as ActionState | null };
    button.addEventListener('click', () => {
      if (entry.state?.enabled) void open(entry.state);
    });
    buttons.set(name, entry);
    list.append(item);
  }

  return {
    element: h('div', { class: 'action-bar' }, list, result, dialog.element),
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
