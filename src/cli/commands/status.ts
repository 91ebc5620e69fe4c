import type { CliCommand } from '../command.js';
import { EXIT } from '../errors.js';
import type { PairDetail } from '../api-client.js';
import { choosePair, PAIR_OPTION, PAIR_USAGE } from '../pair.js';
import { renderTable } from '../table.js';
import { describePreparation } from './prepare.js';

type Split = { blue: number; green: number };

/** `pgshift status`: where a pair stands, what Route 53 holds, signals and guards. */
export const statusCommand: CliCommand = {
  name: 'status',
  summary: "a pair's stage, weights, replication, signals and what an advance would need",
  usage: `[--pair P] [--json]\n\n${PAIR_USAGE}`,
  options: PAIR_OPTION,
  async run(ctx) {
    const pair = await choosePair(ctx);
    const view = await ctx.api.pair(pair);
    ctx.out(ctx.json ? `${JSON.stringify(view, null, 2)}\n` : formatStatus(view, ctx.columns));
    return EXIT.ok;
  },
};

type CutoverView = NonNullable<PairDetail['cutover']>;
type WriteWindowView = NonNullable<PairDetail['lastWriteWindow']>;

/** The write cutover under way: direction, step i/n, time since it began and how long writes have been frozen (the service's clock, both). */
export function describeCutover(c: CutoverView): string {
  const side = c.direction.split('->')[0] ?? 'the old side';
  const step = Math.min(c.stepsDone + 1, c.stepsTotal);
  const frozen = c.frozenAt === null ? 'writes not frozen yet' : `writes frozen on ${side} for ${seconds(c.elapsedMs - (c.frozenAt - c.startedAt))}`;
  return `cutover  ${c.direction}: step ${step}/${c.stepsTotal} ${c.step}, ${seconds(c.elapsedMs)} elapsed, ${frozen}${c.committed ? '; past the writer flip, it will finish' : ''}`;
}

/** The last cutover's write window in its two parts. */
export function describeWriteWindow(w: WriteWindowView): string {
  return `last write window (${w.direction}): ${ms(w.pgshiftMs)} pgshift (freeze -> writer change submitted) + ${w.route53Ms === null ? 'unknown' : ms(w.route53Ms)} Route 53 (-> INSYNC)`;
}

const seconds = (n: number) => `${(Math.max(0, n) / 1000).toFixed(1)} s`;
const ms = (n: number) => `${Math.round(n)} ms`;

const split = (s: Split | null | undefined) => (s ? `blue ${s.blue} / green ${s.green}` : 'records missing');

export function formatStatus(view: PairDetail, columns = 120): string {
  const flags = [view.paused ? 'PAUSED' : '', view.halted ? `HALTED (${view.haltReason ?? 'no reason'})` : ''].filter(Boolean).join(', ');
  const plan = view.stages.map((s) => (s === view.stage ? `[${s}]` : s)).join(' -> ');
  const repl = view.replication;
  const lines = [
    `pair ${view.id}: ${view.stage}${flags ? `  ${flags}` : ''}${view.transition ? `  (moving to ${view.transition.to}: ${view.transition.kind})` : ''}`,
    `plan     ${plan}`,
    ...(view.preparation ? [describePreparation(view.id, view.preparation, view.stage)] : []),
    ...(view.stage === 'unprepared' && !view.transition ? ['green is not prepared yet: pgshift prepare'] : []),
    ...(view.cutover ? [describeCutover(view.cutover)] : []),
    ...(view.lastWriteWindow ? [describeWriteWindow(view.lastWriteWindow)] : []),
    ...(view.retired ? [`finalized: ${view.retired}`] : []),
    `reader   wants ${split(view.weights?.reader)}; Route 53 has ${view.observed ? split(view.observed.reader) : 'not read yet'}`,
    `writer   wants ${split(view.weights?.writer)}; Route 53 has ${view.observed ? split(view.observed.writer) : 'not read yet'}`,
    `replication ${repl ? `${repl.direction}, lag ${repl.lagSeconds ?? '?'} s / ${repl.lagBytes ?? '?'} bytes, ${repl.healthy === null ? 'health unknown' : repl.healthy ? 'healthy' : 'BROKEN'}` : 'not sampled yet'}`,
    `leader   ${view.leader?.holder ?? 'none'}`,
    '',
  ];
  const signalRows = view.signals.map((s) => ({ cells: [s.side === 'both' ? s.name : `${s.name}:${s.side}`, s.state.toUpperCase(), s.summary] }));
  const signals = renderTable(['SIGNAL', 'STATE', 'NOW'], signalRows, columns);
  const guards = renderTable(['GUARD', 'OK', 'DETAIL'], view.guards.map((g) => ({ cells: [g.name, g.ok ? 'yes' : 'NO', g.detail] })), columns);
  return `${lines.join('\n')}\n${signals}\nto advance:\n${guards}`;
}
