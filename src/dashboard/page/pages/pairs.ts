import type { Api, PairList } from '../api.js';
import { fill, h } from '../dom.js';
import { clock, greenShare, seconds } from '../format.js';
import { pairsTable, type PairRow } from '../views/pairs-table.js';

type ListedPair = PairList['pairs'][number];

const REFRESH_MS = 5_000;

export function pairRow(pair: ListedPair): PairRow {
  // The halt with its reason: why a pair stopped is the first thing asked about it.
  const flags = [pair.halted ? `halted: ${pair.haltReason ?? 'no reason recorded'}` : null, pair.paused ? 'paused' : null, pair.transition ? `moving to ${pair.transition.to}` : null].filter(Boolean);
  const s = pair.signals;
  const total = s.healthy + s.breached + s.unknown;
  const last = pair.lastEvent;
  return {
    id: pair.id,
    stage: pair.stage,
    // How far the shift is: reads and, weighing more, writes wanted on green.
    stageRank: (pair.weights?.reader?.green ?? 0) + (pair.weights?.writer?.green ?? 0) * 1000,
    state: flags.length > 0 ? flags.join(', ') : 'ok',
    alert: pair.halted || s.breached > 0,
    reads: greenShare(pair.weights?.reader, pair.observed?.reader),
    readsSeen: pair.observed?.reader?.green ?? -1,
    writes: greenShare(pair.weights?.writer, pair.observed?.writer),
    writesSeen: pair.observed?.writer?.green ?? -1,
    lag: seconds(pair.replication?.lagSeconds),
    lagSeconds: pair.replication?.lagSeconds ?? -1,
    signals:
      total === 0
        ? 'not sampled yet'
        : s.breached + s.unknown === 0
          ? `all ${total} healthy`
          : [s.breached ? `${s.breached} breached` : null, s.unknown ? `${s.unknown} no data` : null].filter(Boolean).join(', '),
    unhealthy: s.breached * 100 + s.unknown,
    lastEvent: last ? `${last.action}${last.toStage ? ` ${last.toStage}` : ''} by ${last.actor}, ${clock(last.at)}` : 'none',
    lastEventAt: last?.at ?? 0,
  };
}

/**
 * The pairs page: every pair from one request (the list carries each pair's lag,
 * signal health and last event), read again every few seconds while the page is open.
 * Returns the function that stops it.
 */
export function pairsPage(root: HTMLElement, api: Api, onError: (message: string) => void): () => void {
  const table = pairsTable();
  const leader = h('p', { class: 'leader' });
  fill(root, h('main', { id: 'main' }, table.element, leader));
  let stopped = false;
  let timer: number | undefined;
  let firstRender = true;

  const cycle = async () => {
    try {
      const list = await api.pairs();
      table.update(list.pairs.map(pairRow));
      const l = list.leader;
      leader.textContent = `Leader: ${l.holder ?? 'none'}${l.self ? ' (this process)' : ''}; this page is served by ${l.instance}.`;
      if (firstRender) {
        firstRender = false;
        performance.mark('pgshift:pairs-rendered');
      }
    } catch (err) {
      onError(err instanceof Error ? err.message : String(err));
    }
    if (!stopped) timer = window.setTimeout(() => void cycle(), REFRESH_MS);
  };
  void cycle();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
