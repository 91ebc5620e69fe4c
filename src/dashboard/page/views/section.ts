import { h } from '../dom.js';

/** A titled part of a page; `body` is what its component fills. */
export function section(id: string, title: string): { element: HTMLElement; body: HTMLElement } {
  const body = h('div', { class: 'body' });
  const element = h('section', { id, 'aria-labelledby': `${id}-title`, class: 'panel' }, h('h2', { id: `${id}-title` }, title), body);
  return { element, body };
}
