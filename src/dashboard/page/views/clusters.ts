import type { PairDetail } from '../api.js';
import { h } from '../dom.js';
import { clock } from '../format.js';

type Clusters = NonNullable<PairDetail['clusters']>;
type Endpoint = Clusters['blue']['writer'];

const endpoint = (e: Endpoint) => (e ? `${e.host}:${e.port}` : '–');

function clusterTable(c: Clusters): HTMLElement {
  const row = (side: 'blue' | 'green') => {
    const x = c[side];
    return h(
      'tr',
      {},
      h('th', { scope: 'row' }, side),
      h('td', {}, x.id ?? '–'),
      h('td', {}, x.version ? `${x.engine ?? ''} ${x.version}`.trim() : '–'),
      h('td', { class: 'endpoint' }, endpoint(x.writer)),
      h('td', { class: 'endpoint' }, endpoint(x.reader)),
      h('td', { class: x.available ? null : 'bad' }, [x.status, x.statusDetail, x.error?.message].filter(Boolean).join(': ')),
    );
  };
  const headings = ['Side', 'Cluster', 'Version', 'Writer endpoint', 'Reader endpoint', 'Status'];
  return h(
    'div',
    // Focusable, so that a keyboard can scroll it when the endpoints make it wider than the panel.
    { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Clusters, scrollable' },
    h(
      'table',
      {},
      h('caption', { class: 'visually-hidden' }, 'Clusters'),
      h('thead', {}, h('tr', {}, ...headings.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, row('blue'), row('green')),
    ),
  );
}

/** Both clusters (version, endpoints, status), the newest snapshot and the point-in-time restore window. */
export function clustersView(view: PairDetail): HTMLElement[] {
  const c = view.clusters;
  if (!c) return [h('p', {}, 'The clusters have not been read yet.')];
  const snap = c.lastSnapshot;
  const parts: HTMLElement[] = [
    clusterTable(c),
    h(
      'p',
      {},
      snap
        ? `Last snapshot: ${snap.id} of ${snap.side} (${snap.clusterId}), ${snap.status}${snap.status === 'creating' ? ` ${snap.progress} %` : ''}, taken ${clock(snap.createdAt)}${snap.error ? `: ${snap.error}` : ''}.`
        : 'No snapshot taken yet.',
    ),
  ];
  if (c.pitr) parts.push(h('p', {}, `Point-in-time restore of ${c.pitr.side}: ${clock(c.pitr.earliest)} to ${clock(c.pitr.latest)}.`));
  return parts;
}
