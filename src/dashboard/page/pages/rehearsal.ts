import { REHEARSAL_BAKE_SECONDS, REHEARSAL_MAX_BAKE_SECONDS, REHEARSAL_MAX_WRITE_RATE, REHEARSAL_WRITE_RATE } from '../../../defaults.js';
import { rehearsalPermissions, type Permission } from '../actions.js';
import type { Api, RehearsalRecord, Session } from '../api.js';
import { fill, h, setText } from '../dom.js';
import { explainedButton } from '../views/actions.js';
import { confirmDialog } from '../views/confirm.js';
import { rehearsalLine, rehearsalOutcome } from '../views/rehearsal.js';
import { section } from '../views/section.js';

/** While a rehearsal runs, it is read again this often (its copy percentage moves between the audit events that announce steps). */
const RUNNING_REFRESH_MS = 3_000;

export interface RehearsalPart {
  element: HTMLElement;
  /** Reads the pair's newest rehearsal again (an audit event of a rehearsal arrived, or the stream is back). */
  load(): Promise<void>;
  /** Once a second: the elapsed time, and a read now and then while one runs. */
  tick(now: number): void;
}

/**
 * The pair page's "Rehearsal" section: the newest rehearsal (live while it runs, its
 * report when done) with the buttons to start one and to cancel it, each confirmed in a
 * dialog. Errors of its own (a refused start, say) are shown in it.
 */
export function rehearsalPart(api: Api, session: Session, pairId: string): RehearsalPart {
  const { element, body } = section('rehearsal', 'Rehearsal');
  const line = h('p', { class: 'rehearsal-line' });
  const details = h('div');
  const result = h('p', { class: 'result', role: 'status', 'aria-live': 'polite' });
  const dialog = confirmDialog('rehearsal-confirm', { reason: false });
  const rehearse = explainedButton('rehearse');
  const cancel = explainedButton('rehearsal-cancel');
  setText(rehearse.button, 'Rehearse');
  setText(cancel.button, 'Cancel rehearsal');
  // The API's ranges (src/rehearsal/store.ts): the browser refuses what the API would.
  const bake = h('input', { id: 'rehearsal-bake', type: 'number', min: 0, max: REHEARSAL_MAX_BAKE_SECONDS, step: 'any', required: true, value: String(REHEARSAL_BAKE_SECONDS) });
  const rate = h('input', { id: 'rehearsal-rate', type: 'number', min: 0, max: REHEARSAL_MAX_WRITE_RATE, step: 'any', required: true, value: String(REHEARSAL_WRITE_RATE) });
  const settings = h(
    'div',
    { class: 'settings' },
    h('label', { for: 'rehearsal-bake' }, 'Bake per read stage (s)', bake),
    h('label', { for: 'rehearsal-rate' }, 'Writes per second (0: none)', rate),
  );
  fill(body, settings, h('ul', { class: 'actions' }, rehearse.item, cancel.item), result, line, details, dialog.element);

  let latest: RehearsalRecord | null = null;
  let shown = '';
  let busy = false;
  let loading: Promise<void> | null = null;
  let lastLoad = 0;

  const report = (message: string, ok: boolean) => {
    setText(result, message);
    result.classList.toggle('bad', !ok);
  };
  const allow = (b: ReturnType<typeof explainedButton>, p: Permission) => {
    b.button.disabled = busy || !p.enabled;
    setText(b.why, p.reason ?? '');
  };

  const show = (r: RehearsalRecord | null) => {
    latest = r;
    const permissions = rehearsalPermissions(r, session.role);
    allow(rehearse, permissions.rehearse);
    allow(cancel, permissions.cancel);
    bake.disabled = rate.disabled = rehearse.button.disabled;
    setText(line, r ? rehearsalLine(r, Date.now()) : 'No rehearsal yet.');
    // The report is drawn once per state, so an opened plan or a copied remediation stays as it is while the page refreshes.
    const key = r ? `${r.id} ${r.status}` : '';
    if (key !== shown) fill(details, ...(r && r.status !== 'running' ? rehearsalOutcome(r) : []));
    shown = key;
  };

  const load = () => {
    lastLoad = Date.now();
    loading ??= api
      .latestRehearsal(pairId)
      .then(show, (err: unknown) => report(`Cannot read the rehearsal: ${err instanceof Error ? err.message : String(err)}`, false))
      .finally(() => (loading = null));
    return loading;
  };

  /** Asks in the dialog, then sends; the button stays disabled until the answer came back. */
  const confirmThen = async (request: Parameters<typeof dialog.ask>[0], send: () => Promise<string>) => {
    if ((await dialog.ask(request)) === null) return;
    busy = true;
    show(latest);
    report(`${request.label}: sent…`, true);
    try {
      report(await send(), true);
    } catch (err) {
      report(`${request.label} refused: ${err instanceof Error ? err.message : String(err)}`, false);
    }
    busy = false;
    await load();
  };

  rehearse.button.addEventListener('click', () => {
    const invalid = [bake, rate].find((input) => !input.checkValidity());
    if (invalid) {
      report(`${invalid.labels?.[0]?.firstChild?.textContent ?? invalid.id}: ${invalid.validationMessage}`, false);
      invalid.focus();
      return;
    }
    const request = { bakeSeconds: bake.valueAsNumber, writeRate: rate.valueAsNumber };
    void confirmThen(
      {
        title: 'Rehearse?',
        effect: `Rehearse the upgrade of ${pairId}: blue's newest pgshift snapshot (taken first when blue has none) is restored into new staging clusters with DNS names of their own. There preflight, the preparation with its initial copy, each read stage (baked ${request.bakeSeconds} s), the write cutover and the way back run under ${request.writeRate} writes a second; the staging clusters and names are removed at the end. The real pair is never touched. It takes minutes.`,
        label: 'Rehearse',
      },
      async () => `Rehearsal ${(await api.startRehearsal(pairId, request)).id} started.`,
    );
  });
  cancel.button.addEventListener('click', () => {
    const id = latest?.id;
    if (!id) return;
    void confirmThen(
      {
        title: 'Cancel the rehearsal?',
        effect: `Cancel rehearsal ${id}: it stops at its current step; its staging clusters are still removed.`,
        label: 'Cancel rehearsal',
        dismiss: 'Keep it running',
      },
      async () => `Cancel of rehearsal ${(await api.cancelRehearsal(pairId, id)).id} asked; its staging clusters are removed.`,
    );
  });

  return {
    element,
    load,
    tick(now) {
      if (latest?.status !== 'running') return;
      setText(line, rehearsalLine(latest, now));
      if (now - lastLoad >= RUNNING_REFRESH_MS) void load();
    },
  };
}
