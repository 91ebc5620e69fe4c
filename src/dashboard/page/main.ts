import { Api, ApiError, type Session } from './api.js';
import { fill, h, setText } from './dom.js';
import { pairPage } from './pages/pair.js';
import { pairsPage } from './pages/pairs.js';
import { signInView } from './views/signin.js';

/**
 * The dashboard: a client of the REST API and the event stream, like the CLI. Signed
 * out, it shows the sign-in form; signed in, the page the hash names (`#/` the pairs,
 * `#/pairs/<id>` one pair).
 */
let session: Session | null = null;
let leave: (() => void) | null = null;
const api = new Api(() => {
  if (!session) return;
  session = null;
  route();
  setText(problem, 'The session ended: sign in again.');
});
const root = document.getElementById('app')!;
const who = h('span', { class: 'who' });
const signOut = h('button', { type: 'button', class: 'link' }, 'Sign out');
const nav = h('nav', { 'aria-label': 'Main' }, h('a', { href: '#/' }, 'Pairs'), who, signOut);
const problem = h('p', { class: 'error', role: 'alert' });
const content = h('div');
fill(root, h('header', {}, h('a', { href: '#main', class: 'skip' }, 'Skip to content'), h('span', { class: 'brand' }, 'pgshift'), nav), problem, content);

function route(): void {
  leave?.();
  leave = null;
  setText(problem, '');
  nav.hidden = session === null;
  if (!session) {
    fill(content, signInView(signIn));
    document.getElementById('token')?.focus();
    return;
  }
  setText(who, `${session.actor} (${session.role})`);
  const match = /^#\/pairs\/(.+)$/.exec(location.hash);
  leave = match
    ? pairPage(content, api, session, decodeURIComponent(match[1]!))
    : pairsPage(content, api, (message) => setText(problem, message));
}

async function signIn(token: string): Promise<string | null> {
  try {
    session = await api.signIn(token);
    route();
    return null;
  } catch (err) {
    return err instanceof ApiError && err.status === 401 ? 'That token is not valid.' : `Cannot sign in: ${err instanceof Error ? err.message : String(err)}`;
  }
}

signOut.addEventListener('click', () => {
  void api.signOut().finally(() => {
    session = null;
    route();
  });
});

// Only `#/...` names a page: the skip link's `#main` moves focus and leaves the page as it is.
window.addEventListener('hashchange', () => {
  if (location.hash === '' || location.hash.startsWith('#/')) route();
});

try {
  session = await api.session();
} catch (err) {
  if (!(err instanceof ApiError && err.status === 401)) setText(problem, `Cannot reach pgshift: ${err instanceof Error ? err.message : String(err)}`);
}
route();
