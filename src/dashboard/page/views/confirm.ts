import { h, setText } from '../dom.js';

export interface ConfirmRequest {
  /** The dialog's heading ("Advance?"). */
  title: string;
  /** What confirming does, in a sentence. */
  effect: string;
  /** The confirm button's label. */
  label: string;
  /** The button that closes the dialog without doing anything; default "Cancel". */
  dismiss?: string;
}

export interface ConfirmDialog {
  element: HTMLDialogElement;
  /** Opens the dialog; answers the reason typed ('' without a reason field) when confirmed, null when dismissed. */
  ask(request: ConfirmRequest): Promise<string | null>;
}

/**
 * A modal <dialog> that says what a button will do and sends nothing unless its confirm
 * button (or Enter) is pressed; with `reason`, it asks for an optional reason for the
 * audit log. `id` prefixes its elements' ids, so a page can hold several.
 */
export function confirmDialog(id: string, options: { reason: boolean }): ConfirmDialog {
  const effect = h('p', { id: `${id}-effect` });
  const reason = options.reason ? h('input', { id: `${id}-reason`, type: 'text', maxlength: 500, autocomplete: 'off' }) : null;
  const confirm = h('button', { type: 'submit', value: 'confirm', class: 'danger' }, 'Confirm');
  const cancel = h('button', { type: 'button', value: 'cancel' }, 'Cancel');
  const title = h('h2', { id: `${id}-title` });
  const form = h(
    'form',
    { method: 'dialog' },
    title,
    effect,
    reason && h('label', { for: `${id}-reason` }, 'Reason (for the audit log, optional)'),
    reason,
    h('div', { class: 'buttons' }, cancel, confirm),
  );
  const dialog = h('dialog', { 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-effect` }, form);
  let answer: ((value: string | null) => void) | null = null;
  cancel.addEventListener('click', () => dialog.close('cancel'));
  dialog.addEventListener('close', () => {
    const settle = answer;
    answer = null;
    settle?.(dialog.returnValue === 'confirm' ? (reason?.value.trim() ?? '') : null);
  });

  return {
    element: dialog,
    ask(request) {
      answer?.(null);
      setText(title, request.title);
      setText(effect, request.effect);
      setText(confirm, request.label);
      setText(cancel, request.dismiss ?? 'Cancel');
      if (reason) reason.value = '';
      dialog.returnValue = '';
      dialog.showModal();
      reason?.focus();
      return new Promise((resolve) => (answer = resolve));
    },
  };
}
