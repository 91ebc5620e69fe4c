import { ApiClient } from '../cli/api-client.js';
import { systemClock } from '../clock.js';
import { describePreparation } from '../cli/commands/prepare.js';
import * as D from '../defaults.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';

export interface LabPrepareOptions {
  /** The service's address and an operator token: the lab asks as an operator would. */
  url: string;
  token: string;
  pair: string;
  log: Logger;
  /** Where progress lines go (the terminal, beside the banner). */
  out(line: string): void;
  /** Ends the following (the lab stopping); the preparation itself goes on in the service. */
  signal: AbortSignal;
}

/**
 * The lab's pair is prepared through the service, as an operator's would be: a start
 * that finds it unprepared asks the service to `prepare` over HTTP, then follows it and
 * prints its progress until green follows blue. A preparation already under way (a
 * restart) is only followed; a pair past `unprepared` is left alone (a transition it
 * is in then is an advance or a revert, not a preparation).
 */
export async function prepareLabPair(options: LabPrepareOptions): Promise<void> {
  const api = new ApiClient(new URL(options.url), options.token);
  const { pair, signal } = options;
  try {
    const view = await api.pair(pair);
    // The stage stays `unprepared` until the preparation ends.
    if (view.stage !== 'unprepared') return;
    let intent = view.transition ? null : (await api.requestIntent(pair, 'prepare', { reason: 'the lab starts with an empty green' }, false)).intent;
    options.out(`  green            being prepared through the service (pgshift prepare --pair ${pair}); progress follows\n`);
    let last = '';
    let printedAt = 0;
    while (!signal.aborted) {
      await systemClock.sleep(D.CLI_PROGRESS_POLL_MS, signal).catch(() => undefined);
      const now = await api.pair(pair);
      if (intent) intent = (await api.intent(pair, intent.id)).intent;
      const settled = intent ? intent.status !== 'pending' : !now.transition;
      if (settled) {
        options.out(now.stage === 'unprepared' ? `  green            NOT prepared: ${now.lastTransition?.abandoned?.reason ?? 'see pgshift events'}\n` : `  green            prepared: ${pair} is at ${now.stage}, green follows blue\n`);
        return;
      }
      const line = describePreparation(pair, now.preparation, now.stage);
      if (line !== last && Date.now() - printedAt >= D.LAB_PROGRESS_LINE_MS) {
        options.out(`  ${line}\n`);
        last = line;
        printedAt = Date.now();
      }
    }
  } catch (err) {
    if (!signal.aborted) options.log.warn({ pair, err: describeError(err) }, 'cannot follow the preparation of the lab pair; see pgshift status');
  }
}
