#!/usr/bin/env node
import { resolve, join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import * as D from '../../defaults.js';
import { describeError, isPgshiftError } from '../../errors.js';
import { createLogger } from '../../log.js';
import type { Side } from '../../shift/model.js';
import { LAB_PAIR } from '../lab-endpoints.js';
import { parseWorkloadSettings } from './config.js';
import * as W from './defaults.js';
import { Ledger } from './ledger.js';
import { folderLab } from './lab.js';
import { verifyLedger, type LedgerReport } from './verify.js';
import { DemoWorkload } from './workload.js';

const USAGE = `usage: npm run workload -- [--rate N] [--seconds S] [--read-share P] [--verify] [options]

Runs the lab's demo shop against a running lab (npm start) through its weighted names,
prints its numbers as JSON on stdout when it ends (logs go to stderr).

  --rate N          write transactions per second (default ${W.WORKLOAD_CLI_RATE}); reads come on top
  --read-share P    reads as a share of all requests, 0 <= P < 1 (default ${W.WORKLOAD_READ_SHARE})
  --seconds S       stop after S seconds (default: run until Ctrl-C)
  --verify          check the database against the ledger (after the run, or alone without --rate/--seconds)
  --side blue|green the database --verify checks (default: where the writer name points)
  --ledger FILE     the ledger (default: <lab dir>/${W.WORKLOAD_LEDGER_FILE}, shared with the lab's own app)
  --lab-dir DIR     the lab's folder (default: ${D.LAB_DIR})
  --service URL     pgshift, for the pushes (default: ${D.DEFAULT_CLI_URL})
  --no-push         do not push counts to pgshift
  --clients N       simulated application instances, each with its own DNS cache (default ${W.WORKLOAD_CLIENTS})
  --max-in-flight N requests at once (default ${W.WORKLOAD_MAX_IN_FLIGHT})
  --pool-max N      connections per resolved endpoint (default ${W.WORKLOAD_POOL_MAX})
  --stats-port N    loopback port of the live numbers, GET / (default: a free one, logged)

Exit codes: 0 done (and the ledger check passed), 1 the check found differences or the run failed, 2 bad arguments.
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        rate: { type: 'string' },
        'read-share': { type: 'string' },
        seconds: { type: 'string' },
        verify: { type: 'boolean', default: false },
        side: { type: 'string' },
        ledger: { type: 'string' },
        'lab-dir': { type: 'string', default: D.LAB_DIR },
        service: { type: 'string', default: D.DEFAULT_CLI_URL },
        'no-push': { type: 'boolean', default: false },
        clients: { type: 'string' },
        'max-in-flight': { type: 'string' },
        'pool-max': { type: 'string' },
        'stats-port': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`${describeError(err)}\n${USAGE}`);
    return D.CONFIG_ERROR_EXIT_CODE;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const seconds = args.seconds === undefined ? null : Number(args.seconds);
  if (seconds !== null && !(Number.isFinite(seconds) && seconds > 0)) {
    process.stderr.write(`--seconds: must be a positive number, got "${args.seconds}"\n`);
    return D.CONFIG_ERROR_EXIT_CODE;
  }
  if (args.side !== undefined && args.side !== 'blue' && args.side !== 'green') {
    process.stderr.write(`--side: must be blue or green, got "${args.side}"\n`);
    return D.CONFIG_ERROR_EXIT_CODE;
  }
  let settings;
  try {
    settings = parseWorkloadSettings(
      {
        rate: args.rate ?? W.WORKLOAD_CLI_RATE,
        ...(args['read-share'] === undefined ? {} : { readShare: args['read-share'] }),
        ...(args.clients === undefined ? {} : { clients: args.clients }),
        ...(args['max-in-flight'] === undefined ? {} : { maxInFlight: args['max-in-flight'] }),
        ...(args['pool-max'] === undefined ? {} : { poolMax: args['pool-max'] }),
        ...(args['stats-port'] === undefined ? {} : { statsPort: args['stats-port'] }),
        push: !args['no-push'],
      },
      '--',
    );
  } catch (err) {
    process.stderr.write(`${describeError(err).replace(/--\.(\w+)/g, (_, key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)}\n`);
    return D.CONFIG_ERROR_EXIT_CODE;
  }

  const log = createLogger({ level: process.env.PGSHIFT_LOG_LEVEL ?? 'info' }, pino.destination(2));
  const dir = resolve(args['lab-dir']);
  const ledgerFile = resolve(args.ledger ?? join(dir, W.WORKLOAD_LEDGER_FILE));
  const { topology, state } = await folderLab(dir);
  const verifyOnly = args.verify && args.rate === undefined && seconds === null;
  const out: Record<string, unknown> = {};

  if (!verifyOnly) {
    const workload = new DemoWorkload({
      topology,
      settings,
      ledger: new Ledger(ledgerFile),
      log,
      pushTo: settings.push ? { url: args.service.replace(/\/$/, ''), pair: LAB_PAIR, token: state.secrets.operatorToken } : null,
    });
    await workload.start();
    const progress = setInterval(() => {
      const s = workload.snapshot();
      log.info({ perSecond: s.window.perSecond, latencyMs: s.window.latencyMs, behind: s.totals.behind, inFlight: s.inFlight }, 'progress');
    }, 5_000);
    await new Promise<void>((done) => {
      const timer = seconds === null ? null : setTimeout(done, seconds * 1000);
      const stop = () => {
        if (timer) clearTimeout(timer);
        done();
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    clearInterval(progress);
    const ran = workload.snapshot();
    await workload.stop();
    const done = workload.snapshot();
    const elapsed = Math.max(ran.seconds, 0.001);
    const sum = (b: { blue: number; green: number; unknown: number }) => b.blue + b.green + b.unknown;
    out.run = {
      target: { writesPerSecond: settings.rate, readShare: settings.readShare },
      reached: {
        writesPerSecond: Math.round((sum(done.totals.writes) / elapsed) * 10) / 10,
        readsPerSecond: Math.round((sum(done.totals.reads) / elapsed) * 10) / 10,
      },
      ...done,
    };
  }

  let report: LedgerReport | null = null;
  if (args.verify) {
    const side: Side = (args.side as Side | undefined) ?? (await writerSideFromFolder(topology.records, topology.names.writer, topology.sideOfEndpoint));
    const ports = { blue: state.ports.blue!, green: state.ports.green! };
    report = await verifyLedger(await Ledger.load(ledgerFile), {
      host: '127.0.0.1',
      port: ports[side],
      database: topology.database,
      login: topology.login,
    });
    out.verify = { side, ledger: ledgerFile, ...report };
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  return report && !report.ok ? 1 : 0;
}

/** The side the writer name answers (the writer is never split). */
async function writerSideFromFolder(
  records: { readName(name: string): Promise<{ candidates: { weight: number | null; value: string }[] } | null> },
  writer: string,
  sideOf: (endpoint: string) => Side | null,
): Promise<Side> {
  const answer = await records.readName(writer);
  const live = answer?.candidates.filter((c) => (c.weight ?? 1) > 0) ?? [];
  return (live.length === 1 ? sideOf(live[0]!.value) : null) ?? 'blue';
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`workload failed: ${isPgshiftError(err) ? `${err.code}: ` : ''}${describeError(err)}\n`);
    process.exit(1);
  },
);
