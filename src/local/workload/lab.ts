import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as D from '../../defaults.js';
import { PgshiftError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { SIDES, type Side } from '../../shift/model.js';
import { fqdn } from '../../traffic/route53-records.js';
import type { Lab } from '../lab.js';
import { LAB_HOSTED_ZONE, LAB_PAIR, labClusterId, labEndpoint, labRecordName } from '../lab-endpoints.js';
import { loadLabState, type LabState } from '../lab-state.js';
import { storeRecordSource, type NameRecords, type RecordSource } from '../resolver.js';
import { normaliseName } from '../route53/names.js';
import { readZoneFile } from '../route53/zone-file.js';
import type { WorkloadSettings } from './config.js';
import * as W from './defaults.js';
import type { WorkloadTopology } from './endpoints.js';
import { Ledger } from './ledger.js';
import { DemoWorkload, type PushTarget } from './workload.js';

/**
 * The lab as the demo application sees it: the demo pair's two names, answered from the
 * Route 53 stand-in's records (never its API, which has a request budget of its own),
 * each cluster endpoint on its loopback port, and the `app` login.
 */
function topologyOver(records: RecordSource, ports: () => Record<Side, number>, appPassword: string, pair = LAB_PAIR): WorkloadTopology {
  const endpoints = new Map<string, Side>();
  for (const side of SIDES) {
    for (const kind of ['writer', 'reader'] as const) endpoints.set(normaliseName(labEndpoint(labClusterId(side, pair), kind)), side);
  }
  const sideOfEndpoint = (endpoint: string) => endpoints.get(normaliseName(endpoint)) ?? null;
  return {
    names: { reader: labRecordName('reader', pair), writer: labRecordName('writer', pair) },
    records,
    address: (endpoint) => {
      const side = sideOfEndpoint(endpoint);
      return side ? { host: '127.0.0.1', port: ports()[side] } : null;
    },
    sideOfServer: (port) => SIDES.find((side) => ports()[side] === port) ?? null,
    sideOfEndpoint,
    database: D.LAB_DATABASE,
    login: { user: D.LAB_APP_ROLE, password: appPassword },
  };
}

/** The topology of a lab running in this process: records read from the stand-in's store. */
export function labTopology(lab: Lab): WorkloadTopology {
  const route53 = lab.route53;
  if (!route53) throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_NO_ROUTE53', 'the lab has no Route 53 stand-in running');
  return topologyOver(
    storeRecordSource(route53.standIn.store, route53.zoneId),
    () => ({ blue: lab.servers.blue.port, green: lab.servers.green.port }),
    lab.state.secrets.appPassword,
  );
}

/**
 * Records read from the stand-in's zone file, for an application in another process
 * than the lab (`npm run workload`): the file is what the stand-in persists after every
 * change, so it is what a DNS server over the zone would serve. Re-read when it changed.
 */
export function zoneFileRecordSource(file: string, zoneName = LAB_HOSTED_ZONE): RecordSource {
  let checkedAt = 0;
  let mtime = -1;
  let records: { name: string; type: string; ttl?: number; setIdentifier?: string; weight?: number; values?: string[] }[] = [];
  let reading: Promise<void> | null = null;
  const refresh = async () => {
    const info = await stat(file);
    if (info.mtimeMs === mtime) return;
    const contents = await readZoneFile(file);
    const zone = contents?.zones.find((z) => normaliseName(z.name) === normaliseName(zoneName));
    if (!zone) throw new PgshiftError('PGSHIFT_ERR_LAB_NAME_NOT_FOUND', `${file} has no hosted zone ${zoneName}`, { status: 404 });
    records = zone.records;
    mtime = info.mtimeMs;
  };
  return {
    readName: async (name) => {
      if (Date.now() - checkedAt >= W.WORKLOAD_ZONE_FILE_CHECK_MS) {
        reading ??= refresh().finally(() => {
          checkedAt = Date.now();
          reading = null;
        });
        await reading;
      }
      const wanted = fqdn(name);
      const usable = records.filter((r) => r.name === wanted && (r.type === 'CNAME' || r.type === 'A') && r.values?.[0] !== undefined);
      if (usable.length === 0) return null;
      const answer: NameRecords = {
        ttl: Math.min(...usable.map((r) => r.ttl ?? 0)),
        candidates: usable.map((r) => ({ setIdentifier: r.setIdentifier ?? null, weight: r.weight ?? null, value: r.values![0]! })),
      };
      return answer;
    },
  };
}

/** A lab started by another process (`npm start`), found by its folder. */
export async function folderLab(dir: string): Promise<{ topology: WorkloadTopology; state: LabState }> {
  try {
    await stat(join(dir, 'lab.json'));
  } catch {
    throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_NO_LAB', `no lab in ${dir} (start one with npm start, or give --lab-dir)`, { status: 404 });
  }
  const state = await loadLabState(dir);
  const ports = () => {
    const blue = state.ports.blue;
    const green = state.ports.green;
    if (blue === undefined || green === undefined) throw new PgshiftError('PGSHIFT_ERR_WORKLOAD_NO_LAB', `${dir}/lab.json has no ports for blue and green`);
    return { blue, green };
  };
  ports();
  return { topology: topologyOver(zoneFileRecordSource(join(dir, D.LAB_ROUTE53_FILE)), ports, state.secrets.appPassword), state };
}

export interface LabWorkloadOptions {
  lab: Lab;
  settings: WorkloadSettings;
  log: Logger;
  /** pgshift's URL, for the pushes; null or absent: no pushes. */
  serviceUrl?: string | null;
  /** The ledger file; default `<lab dir>/workload-ledger.jsonl`; null keeps it in memory only. */
  ledgerFile?: string | null;
}

/** Starts the demo application on a lab running in this process (`npm start`, tests). */
export async function startLabWorkload(options: LabWorkloadOptions): Promise<DemoWorkload> {
  const { lab, settings } = options;
  const pushTo: PushTarget | null =
    settings.push && options.serviceUrl ? { url: options.serviceUrl, pair: LAB_PAIR, token: lab.state.secrets.operatorToken } : null;
  const ledgerFile = options.ledgerFile === undefined ? join(lab.dir, W.WORKLOAD_LEDGER_FILE) : options.ledgerFile;
  const workload = new DemoWorkload({ topology: labTopology(lab), settings, ledger: new Ledger(ledgerFile), log: options.log, pushTo });
  await workload.start();
  return workload;
}
