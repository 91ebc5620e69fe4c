import { h } from '../dom.js';

/** The sign-in form: a token, sent once to start a session; the field is emptied whatever happens. */
export function signInView(onSubmit: (token: string) => Promise<string | null>): HTMLElement {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, 'aria-describedby': 'token-help' });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to pgshift'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' }, 'An operator or viewer token from the service configuration. The page keeps a session cookie, never the token.'),
    submit,
    error,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const token = input.value.trim();
    input.value = '';
    submit.disabled = true;
    error.textContent = '';
    void onSubmit(token).then((message) => {
      submit.disabled = false;
      if (message) {
        error.textContent = message;
        input.focus();
      }
    });
  });
  return h('main', { id: 'main' }, form);
}
