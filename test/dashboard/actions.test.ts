import t from 'tap';
import type { PairDetail } from '../../src/api/schemas.js';
import { actionStates, rehearsalPermissions, VIEWER_REASON, type ActionName } from '../../src/dashboard/page/actions.js';

/**
 * The pair page's buttons from the API's `actions` (tier 1: pure). Which action the
 * controller allows is its own rule, tested in test/shift/operator-actions.test.ts;
 * here: the cutover gets its own button, refusals keep the API's words, viewers press nothing.
 */

const STAGES = ['unprepared', 'baseline', 'reads-10', 'reads-50', 'reads-100', 'cutover', 'green', 'finalized'] as PairDetail['stages'];
const ok = (effect: string) => ({ allowed: true, effect, reason: null });
const no = (effect: string, reason: string) => ({ allowed: false, effect, reason });

function view(stage: string, actions: Partial<PairDetail['actions']> = {}): PairDetail {
  return {
    id: 'orders',
    stage,
    stages: STAGES,
    actions: {
      advance: ok('reads on green 0 % -> 10 %'),
      revert: no('send traffic back to blue', 'already at baseline: every read and write goes to blue'),
      pause: ok('stop automatic advances'),
      resume: no('let the pair move again', 'neither paused nor halted'),
      finalize: no('close the way back', 'finalize closes the way back from green; the pair is at baseline'),
      ...actions,
    },
  } as PairDetail;
}

const byName = (v: PairDetail, role: 'operator' | 'viewer' = 'operator') =>
  Object.fromEntries(actionStates(v, role).map((s) => [s.name, s])) as Record<ActionName, ReturnType<typeof actionStates>[number]>;

t.test('an operator gets the API’s verdicts, effects and reasons', async (t) => {
  const s = byName(view('baseline'));
  t.equal(s.advance.enabled, true);
  t.equal(s.advance.effect, 'Advance orders: reads on green 0 % -> 10 %.', 'the dialog says what it will do');
  t.equal(s.pause.enabled, true);
  t.same([s.revert.enabled, s.revert.reason], [false, 'already at baseline: every read and write goes to blue']);
  t.same([s.resume.enabled, s.resume.reason], [false, 'neither paused nor halted']);
  t.match(s.cutover.reason, /the write cutover starts from the last read stage; the pair is at baseline/);
});

t.test("a failing guard keeps advancing disabled with the guard's own sentence", async (t) => {
  const s = byName(view('reads-10', { advance: no('reads on green 10 % -> 50 %', 'halted: auto-revert: lag 7.2 s > limit 5 s; resume first') }));
  t.same([s.advance.enabled, s.advance.reason], [false, 'halted: auto-revert: lag 7.2 s > limit 5 s; resume first']);
});

t.test('from the last read stage the advance is the cutover, on its own button', async (t) => {
  const s = byName(view('reads-100', { advance: ok('write cutover to green: writes freeze on blue') }));
  t.equal(s.cutover.enabled, true);
  t.equal(s.cutover.effect, 'Cut over orders: write cutover to green: writes freeze on blue.');
  t.match(s.advance.reason, /use "Cut over"/);
  const refused = byName(view('reads-100', { advance: no('write cutover to green', 'bake-time: 3 s to go') }));
  t.same([refused.cutover.enabled, refused.cutover.reason], [false, 'bake-time: 3 s to go'], 'refused with the reason');
});

t.test('a viewer sees every button disabled, read-only', async (t) => {
  const s = byName(view('reads-100', { advance: ok('write cutover'), revert: ok('every read back to blue') }), 'viewer');
  for (const name of Object.keys(s) as ActionName[]) t.same([s[name].enabled, s[name].reason], [false, VIEWER_REASON], name);
});

t.test('rehearsing: one at a time, cancel only while one runs, nothing for a viewer', async (t) => {
  t.same(rehearsalPermissions(null, 'operator'), { rehearse: { enabled: true, reason: null }, cancel: { enabled: false, reason: 'no rehearsal is running' } }, 'none yet');
  t.same(rehearsalPermissions({ id: 'r1', status: 'done' }, 'operator').rehearse, { enabled: true, reason: null }, 'after one ended');
  t.same(rehearsalPermissions({ id: 'r1', status: 'interrupted' }, 'operator').rehearse.enabled, true, 'after a crash ended one');
  t.same(
    rehearsalPermissions({ id: 'r1', status: 'running' }, 'operator'),
    { rehearse: { enabled: false, reason: 'rehearsal r1 is running: one at a time' }, cancel: { enabled: true, reason: null } },
    'while one runs',
  );
  for (const status of ['running', 'done'] as const) {
    t.same(rehearsalPermissions({ id: 'r1', status }, 'viewer'), { rehearse: { enabled: false, reason: VIEWER_REASON }, cancel: { enabled: false, reason: VIEWER_REASON } }, `viewer, ${status}`);
  }
});
