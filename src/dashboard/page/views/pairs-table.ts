import { h, setClass, setText } from '../dom.js';

/** One pair as a row of the pairs table: what each column shows and sorts by. */
export interface PairRow {
  id: string;
  stage: string;
  /** Sorts the stage column by how far the shift is. */
  stageRank: number;
  state: string;
  alert: boolean;
  reads: string;
  readsSeen: number;
  writes: string;
  writesSeen: number;
  lag: string;
  lagSeconds: number;
  signals: string;
  unhealthy: number;
  lastEvent: string;
  lastEventAt: number;
}

interface Column {
  key: keyof PairRow;
  title: string;
  sortBy: (row: PairRow) => string | number;
  text: (row: PairRow) => string;
}

const COLUMNS: Column[] = [
  { key: 'id', title: 'Pair', sortBy: (r) => r.id, text: (r) => r.id },
  { key: 'stage', title: 'Stage', sortBy: (r) => r.stageRank, text: (r) => r.stage },
  { key: 'state', title: 'State', sortBy: (r) => r.state, text: (r) => r.state },
  { key: 'reads', title: 'Reads to green (wanted / seen)', sortBy: (r) => r.readsSeen, text: (r) => r.reads },
  { key: 'writes', title: 'Writes to green (wanted / seen)', sortBy: (r) => r.writesSeen, text: (r) => r.writes },
  { key: 'lag', title: 'Replication lag', sortBy: (r) => r.lagSeconds, text: (r) => r.lag },
  { key: 'signals', title: 'Signals', sortBy: (r) => r.unhealthy, text: (r) => r.signals },
  { key: 'lastEvent', title: 'Last transition', sortBy: (r) => r.lastEventAt, text: (r) => r.lastEvent },
];

interface RenderedRow {
  tr: HTMLTableRowElement;
  cells: HTMLElement[];
  row: PairRow;
}

export interface PairsTable {
  element: HTMLElement;
  /** Puts `rows` in the table: new rows are made, known ones updated in place, gone ones removed. */
  update(rows: PairRow[]): void;
}

/**
 * The table of every pair, sortable by any column (buttons in the headers, aria-sort
 * says how) and filtered by a text that matches the pair, its stage or its state. Rows
 * are made once and updated in place, so a refresh of 200 pairs rewrites only the
 * cells whose text changed.
 */
export function pairsTable(): PairsTable {
  const rendered = new Map<string, RenderedRow>();
  let sort: { key: keyof PairRow; descending: boolean } = { key: 'id', descending: false };
  const tbody = h('tbody');
  const headers = COLUMNS.map((column) => {
    const button = h('button', { type: 'button', class: 'sort' }, column.title);
    const th = h('th', { scope: 'col', 'aria-sort': 'none' }, button);
    button.addEventListener('click', () => {
      sort = { key: column.key, descending: sort.key === column.key ? !sort.descending : false };
      arrange();
    });
    return th;
  });
  const filter = h('input', { id: 'pair-filter', type: 'search', autocomplete: 'off', placeholder: 'pair, stage or state' });
  filter.addEventListener('input', () => arrange());
  const count = h('p', { id: 'pairs-count', class: 'count', role: 'status' });
  const table = h(
    'table',
    { class: 'pairs', 'aria-describedby': 'pairs-count' },
    h('caption', { class: 'visually-hidden' }, 'Every pair, one row each'),
    h('thead', {}, h('tr', {}, ...headers)),
    tbody,
  );

  function arrange(): void {
    const column = COLUMNS.find((c) => c.key === sort.key)!;
    headers.forEach((th, i) => th.setAttribute('aria-sort', COLUMNS[i]!.key === sort.key ? (sort.descending ? 'descending' : 'ascending') : 'none'));
    const needle = filter.value.trim().toLowerCase();
    const all = [...rendered.values()];
    all.sort((a, b) => {
      const x = column.sortBy(a.row);
      const y = column.sortBy(b.row);
      const order = x < y ? -1 : x > y ? 1 : a.row.id.localeCompare(b.row.id);
      return sort.descending ? -order : order;
    });
    let shown = 0;
    all.forEach((r, index) => {
      const match = needle === '' || [r.row.id, r.row.stage, r.row.state].some((text) => text.toLowerCase().includes(needle));
      r.tr.hidden = !match;
      if (match) shown++;
      if (tbody.children[index] !== r.tr) tbody.insertBefore(r.tr, tbody.children[index] ?? null);
    });
    setText(count, `${shown} of ${all.length} pairs`);
  }

  function update(rows: PairRow[]): void {
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      let r = rendered.get(row.id);
      if (!r) {
        const link = h('a', { href: `#/pairs/${encodeURIComponent(row.id)}` }, row.id);
        const cells = COLUMNS.map((_, i) => (i === 0 ? h('th', { scope: 'row' }, link) : h('td')));
        r = { tr: h('tr', { 'data-pair': row.id }, ...cells), cells, row };
        rendered.set(row.id, r);
        tbody.append(r.tr);
      }
      r.row = row;
      COLUMNS.forEach((column, i) => {
        if (i > 0) setText(r.cells[i]!, column.text(row));
      });
      setClass(r.tr, 'alert', row.alert);
    }
    for (const [id, r] of rendered) {
      if (!seen.has(id)) {
        r.tr.remove();
        rendered.delete(id);
      }
    }
    arrange();
  }

  const element = h(
    'section',
    { 'aria-labelledby': 'pairs-title' },
    h('h1', { id: 'pairs-title' }, 'Pairs'),
    h('div', { class: 'toolbar' }, h('label', { for: 'pair-filter' }, 'Filter'), filter, count),
    // Focusable, so that a keyboard can scroll it on a narrow screen.
    h('div', { class: 'scroll', tabindex: 0, role: 'region', 'aria-label': 'Pairs, scrollable' }, table),
  );
  return { element, update };
}
