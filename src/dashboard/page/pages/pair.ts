// All the history the API keeps, fifteen minutes at one sample a second: the charts' window.
import { SIGNAL_HISTORY_SIZE } from '../../../defaults.js';
import { actionStates, type ActionName } from '../actions.js';
import { ApiError, type Api, type EventsPage, type PairDetail, type Session } from '../api.js';
import { pairCharts, type Charts, type Marker } from '../charts.js';
import { fill, h, setText } from '../dom.js';
import { openStream, type LiveStatus } from '../live.js';
import { actionBar, type ActionRequest } from '../views/actions.js';
import { auditTable } from '../views/audit.js';
import { clustersView } from '../views/clusters.js';
import { cutoverView } from '../views/cutover.js';
import { guardList, signalList } from '../views/health.js';
import { stageLadder } from '../views/ladder.js';
import { preflightView } from '../views/preflight.js';
import { section } from '../views/section.js';
import { weightsTable } from '../views/weights.js';
import { rehearsalPart } from './rehearsal.js';

type AuditEvent = EventsPage['events'][number];

const AUDIT_ROWS = 50;
/** Sampling rounds come every second; the pair view (guards, observed weights) is read again at most this often meanwhile. */
const VIEW_REFRESH_MS = 2_000;
/** Audit actions that land a transition: the moments marked on the charts. */
const TRANSITIONS = new Set(['prepare', 'advance', 'cutover', 'revert', 'auto-revert', 'finalize']);

const LIVE_TEXT: Record<LiveStatus, string> = { connecting: 'connecting…', live: 'live', disconnected: 'disconnected: reconnecting' };

function markerOf(e: AuditEvent): Marker | null {
  if (!TRANSITIONS.has(e.action) || e.outcome !== 'ok') return null;
  return { at: e.at, label: `${e.action} ${e.toStage ?? ''}`.trim(), revert: e.action.includes('revert') };
}

/** The API's action for each button: the write cutover is an advance from the last read stage. */
function apiAction(name: ActionName): Exclude<ActionName, 'cutover'> {
  return name === 'cutover' ? 'advance' : name;
}

/**
 * One pair, live: read once, then kept current from its event stream (audit events
 * and stage changes read the pair again, sampling rounds feed the charts). Returns
 * the function that stops it.
 */
export function pairPage(root: HTMLElement, api: Api, session: Session, pairId: string): () => void {
  const status = h('p', { class: 'live', role: 'status' }, LIVE_TEXT.connecting);
  const banner = h('div', { class: 'banner', role: 'alert' });
  const problem = h('p', { class: 'error', role: 'alert' });
  const rehearsal = rehearsalPart(api, session, pairId);
  const parts = {
    stage: section('stage', 'Stage'),
    weights: section('weights', 'Weights'),
    charts: section('charts', 'Last 15 minutes'),
    guards: section('guards', 'Guards of advancing'),
    signals: section('signals', 'Signals'),
    cutover: section('cutover', 'Write cutover'),
    clusters: section('clusters', 'Clusters'),
    preflight: section('preflight', 'Preflight'),
    rehearsal,
    audit: section('audit', 'Audit log'),
  };
  let view: PairDetail | null = null;
  let events: AuditEvent[] = [];
  let charts: Charts | null = null;
  let stopped = false;

  const bar = actionBar((request) => perform(request));
  fill(
    root,
    h(
      'main',
      { id: 'main', class: 'pair' },
      h('div', { class: 'title' }, h('h1', {}, `Pair ${pairId}`), status),
      banner,
      problem,
      bar.element,
      h('div', { class: 'grid' }, ...Object.values(parts).map((p) => p.element)),
    ),
  );

  const renderClocked = () => {
    if (!view) return;
    const now = Date.now();
    fill(parts.stage.body, ...stageLadder(view, now));
    fill(parts.cutover.body, ...cutoverView(view, now));
  };

  const render = (v: PairDetail) => {
    if (!view) performance.mark('pgshift:pair-rendered');
    view = v;
    renderClocked();
    fill(parts.weights.body, ...weightsTable(v));
    fill(parts.guards.body, ...guardList(v));
    fill(parts.signals.body, ...signalList(v));
    fill(parts.clusters.body, ...clustersView(v));
    banner.hidden = !(v.halted || v.paused || v.lastError);
    setText(
      banner,
      [v.halted ? `Halted: ${v.haltReason ?? 'no reason recorded'}` : null, v.paused ? 'Paused: automatic advancing is off.' : null, v.lastError ? `Last error: ${v.lastError}` : null]
        .filter(Boolean)
        .join(' '),
    );
    bar.update(actionStates(v, session.role));
  };

  const guard = async (work: () => Promise<void>) => {
    try {
      await work();
      setText(problem, '');
    } catch (err) {
      if (!stopped) setText(problem, err instanceof Error ? err.message : String(err));
    }
  };

  let refreshing: Promise<void> | null = null;
  let lastRefresh = 0;
  const refresh = () => {
    lastRefresh = Date.now();
    refreshing ??= guard(async () => render(await api.pair(pairId))).finally(() => (refreshing = null));
    return refreshing;
  };

  const showEvents = () => fill(parts.audit.body, ...auditTable(events));
  const loadPreflight = () => guard(async () => fill(parts.preflight.body, ...preflightView(await api.preflight(pairId))));

  async function perform(request: ActionRequest): Promise<void> {
    const action = apiAction(request.action);
    const body: Record<string, unknown> = {};
    if (request.reason) body.reason = request.reason;
    if (action === 'advance' && view) body.expectedStage = view.stage;
    // The dialog was the confirmation the API asks for.
    if (action === 'finalize') body.confirm = true;
    try {
      const answer = await api.act(pairId, action, body);
      bar.report(answer.intent.status === 'pending' ? `${request.action}: accepted, still under way` : `${request.action}: done${answer.pair ? `, the pair is at ${answer.pair.stage}` : ''}`, true);
    } catch (err) {
      bar.report(`${request.action} refused: ${err instanceof ApiError ? err.message : String(err)}`, false);
    }
    await refresh();
  }

  void (async () => {
    await refresh();
    if (!view) return;
    await guard(async () => {
      events = (await api.events(pairId, AUDIT_ROWS)).events;
      showEvents();
    });
    void loadPreflight();
    void rehearsal.load();
    await guard(async () => {
      const snapshots = (await api.signals(pairId)).signals;
      const markers = events.map(markerOf).filter((m): m is Marker => m !== null);
      charts = await pairCharts(snapshots, async (id) => (await api.history(pairId, id, SIGNAL_HISTORY_SIZE)).measurements, markers);
      if (stopped) charts.destroy();
      else fill(parts.charts.body, charts.element);
    });
  })();

  const close = openStream(pairId, {
    status: (s) => {
      setText(status, LIVE_TEXT[s]);
      status.classList.toggle('down', s !== 'live');
      // Whatever happened while the stream was down, the view is read again once it is back.
      if (s === 'live') {
        void refresh();
        void rehearsal.load();
      }
    },
    event: (e) => {
      if (events.some((known) => known.id === e.id)) return;
      events = [e, ...events].slice(0, AUDIT_ROWS);
      showEvents();
      const marker = markerOf(e);
      if (marker) charts?.mark(marker);
      if (e.action.startsWith('preflight')) void loadPreflight();
      if (e.action === 'rehearsal') void rehearsal.load();
      void refresh();
    },
    stage: () => void refresh(),
    signals: (round) => {
      charts?.add(round.at, new Map(round.signals.map((s) => [s.id, s.value])));
      if (Date.now() - lastRefresh >= VIEW_REFRESH_MS) void refresh();
    },
  });
  const ticker = window.setInterval(() => {
    renderClocked();
    rehearsal.tick(Date.now());
  }, 1000);
  return () => {
    stopped = true;
    close();
    window.clearInterval(ticker);
    charts?.destroy();
  };
}
