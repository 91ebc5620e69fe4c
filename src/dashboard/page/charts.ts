import uPlot from 'uplot';
import type { Measurement, SignalSnapshot } from './api.js';
import { h, setText } from './dom.js';
import { signalValue } from './format.js';

/** The charts look back this far; older points are dropped. */
export const WINDOW_MS = 15 * 60 * 1000;

const COLORS = { blue: '#1d4ed8', green: '#15803d', pair: '#7c3aed', limit: '#b91c1c', marker: '#4b5563', revert: '#b91c1c' };

interface ChartSpec {
  id: string;
  title: string;
  /** The signal name; per-side signals get one line per side. */
  signal: string;
  unit: string;
}

const SPECS: ChartSpec[] = [
  { id: 'lag-seconds', title: 'Replication lag, seconds', signal: 'replication.lag_seconds', unit: 's' },
  { id: 'lag-bytes', title: 'Replication lag, bytes', signal: 'replication.lag_bytes', unit: 'bytes' },
  { id: 'probe-p95', title: 'Probe latency p95', signal: 'probe.p95_ms', unit: 'ms' },
  { id: 'probe-errors', title: 'Probe error rate', signal: 'probe.error_rate', unit: 'ratio' },
  { id: 'db-errors', title: 'Database error rate', signal: 'db.error_rate', unit: 'ratio' },
  { id: 'app-errors', title: "The application's error rate", signal: 'app.error_rate', unit: 'ratio' },
];

/** A moment to mark on every chart: a transition or a revert. */
export interface Marker {
  at: number;
  label: string;
  revert: boolean;
}

interface Line {
  signalId: string;
  label: string;
  color: string;
  /** Per second of the window: the value. */
  points: Map<number, number | null>;
}

class Chart {
  readonly element: HTMLElement;
  private readonly plot: uPlot;
  private readonly summary: HTMLElement;

  constructor(
    readonly spec: ChartSpec,
    readonly lines: Line[],
    readonly limit: number | null,
    private readonly markers: Marker[],
  ) {
    const canvas = h('div', { class: 'plot' });
    this.summary = h('p', { class: 'legend' });
    const titleId = `chart-${spec.id}-title`;
    this.element = h('figure', { class: 'chart', 'aria-labelledby': titleId }, h('figcaption', { id: titleId }, spec.title), canvas, this.summary);
    const axisValue = (v: number) => signalValue(v, spec.unit);
    this.plot = new uPlot(
      {
        width: 400,
        height: 180,
        legend: { show: false },
        cursor: { show: false },
        scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(max, this.limit ?? 0, min) * 1.1 || 1] } },
        axes: [{ stroke: '#374151' }, { stroke: '#374151', size: 84, values: (_u, ticks) => ticks.map(axisValue) }],
        series: [
          {},
          ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, spanGaps: true })),
          ...(limit === null ? [] : [{ label: 'limit', stroke: COLORS.limit, width: 1, dash: [6, 4] }]),
        ],
        hooks: { draw: [(u: uPlot) => this.drawMarkers(u)] },
      },
      [[]],
      canvas,
    );
  }

  resize(width: number): void {
    this.plot.setSize({ width: Math.max(200, width), height: 180 });
  }

  add(at: number, values: Map<string, number | null>): void {
    const second = Math.round(at / 1000);
    for (const line of this.lines) {
      if (values.has(line.signalId)) line.points.set(second, values.get(line.signalId)!);
    }
  }

  render(now: number): void {
    const from = Math.round((now - WINDOW_MS) / 1000);
    const xs = new Set<number>();
    for (const line of this.lines) {
      for (const t of [...line.points.keys()]) {
        if (t < from) line.points.delete(t);
        else xs.add(t);
      }
    }
    const x = [...xs].sort((a, b) => a - b);
    const data: (number | null)[][] = [x, ...this.lines.map((l) => x.map((t) => l.points.get(t) ?? null))];
    if (this.limit !== null) data.push(x.map(() => this.limit));
    this.plot.setData(data as uPlot.AlignedData);
    const latest = this.lines.map((l) => {
      const last = x.length ? l.points.get(x[x.length - 1]!) : undefined;
      return `${l.label} ${last === undefined ? 'no reading' : signalValue(last, this.spec.unit)}`;
    });
    if (this.limit !== null) latest.push(`limit ${signalValue(this.limit, this.spec.unit)}`);
    setText(this.summary, `Now: ${latest.join(', ')}.`);
  }

  redraw(): void {
    this.plot.redraw(false);
  }

  /** Vertical lines at each transition (grey) and revert (red), inside the plotting area. */
  private drawMarkers(u: uPlot): void {
    const { ctx, bbox } = u;
    ctx.save();
    ctx.font = `${Math.round(11 * devicePixelRatio)}px sans-serif`;
    for (const m of this.markers) {
      const x = u.valToPos(m.at / 1000, 'x', true);
      if (x < bbox.left || x > bbox.left + bbox.width) continue;
      ctx.strokeStyle = m.revert ? COLORS.revert : COLORS.marker;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.lineWidth = devicePixelRatio;
      ctx.beginPath();
      ctx.moveTo(x, bbox.top);
      ctx.lineTo(x, bbox.top + bbox.height);
      ctx.stroke();
      ctx.fillText(m.label, x + 3 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
    }
    ctx.restore();
  }
}

export interface Charts {
  element: HTMLElement;
  /** One sampling round: each signal's value by id. */
  add(at: number, values: Map<string, number | null>): void;
  mark(marker: Marker): void;
  destroy(): void;
}

/**
 * The live charts of a pair: one per signal kind, blue and green as separate lines
 * where the signal is per side, the limit as a dashed line, transitions and reverts as
 * vertical marks. Filled from each signal's history, then fed by the event stream.
 */
export async function pairCharts(
  snapshots: SignalSnapshot[],
  history: (signalId: string) => Promise<Measurement[]>,
  markers: Marker[],
): Promise<Charts> {
  const charts: Chart[] = [];
  for (const spec of SPECS) {
    const mine = snapshots.filter((s) => s.name === spec.signal);
    if (mine.length === 0) continue;
    const lines = mine.map((s) => ({
      signalId: s.id,
      label: s.side ?? 'pair',
      color: s.side ? COLORS[s.side] : COLORS.pair,
      points: new Map<number, number | null>(),
    }));
    // Green's limit is the one that reverts; the pair-wide signals have one.
    const limitOf = mine.find((s) => s.side === 'green') ?? mine[0]!;
    charts.push(new Chart(spec, lines, limitOf.limit.max, markers));
  }
  await Promise.all(
    charts.flatMap((chart) =>
      chart.lines.map(async (line) => {
        for (const m of await history(line.signalId)) line.points.set(Math.round(m.at / 1000), m.value);
      }),
    ),
  );
  const element = h('div', { class: 'charts' }, ...charts.map((c) => c.element));
  const observer = new ResizeObserver(() => {
    for (const c of charts) c.resize(c.element.clientWidth);
  });
  observer.observe(element);
  const renderAll = () => charts.forEach((c) => c.render(Date.now()));
  renderAll();
  return {
    element,
    add(at, values) {
      for (const c of charts) c.add(at, values);
      renderAll();
    },
    mark(marker) {
      markers.push(marker);
      charts.forEach((c) => c.redraw());
    },
    destroy() {
      observer.disconnect();
    },
  };
}
