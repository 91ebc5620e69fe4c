import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../log.js';
import { resolveBinaries } from '../binaries.js';
import { freePort, isPortFree } from '../lab-state.js';
import type { OsUser } from '../os-user.js';
import { LabServer } from '../pg-server.js';
import type { LabServerFactory, LabServerHandle, LabServerSpec } from './lab-view.js';

export interface LabServerFactoryOptions {
  /** The lab's server folder; a created cluster's server lives in `<root>/rds-<clusterId>`. */
  root: string;
  /** The majors the lab has binaries for. */
  majors: readonly number[];
  /** The unprivileged OS user the servers run as (null when not root). */
  user: OsUser | null;
  log: Logger;
}

/**
 * The lab's servers for clusters created through the RDS stand-in: a real PostgreSQL
 * of the asked major, initialised with the master user as its superuser, run as the
 * lab's OS user like blue and green. Its data stays when the lab stops (the stand-in
 * starts it again on the next start) and goes when the cluster is deleted.
 */
export function labServerFactory(options: LabServerFactoryOptions): LabServerFactory {
  const log = options.log.child({ component: 'rds-lab-servers' });
  const servers = new Map<string, LabServer>();

  const folder = (clusterId: string) => join(options.root, `rds-${clusterId}`);

  return {
    majors: () => options.majors,

    async start(spec: LabServerSpec): Promise<LabServerHandle> {
      const server = new LabServer({
        name: spec.clusterId,
        dir: folder(spec.clusterId),
        binaries: await resolveBinaries(spec.major, options.user),
        port: spec.port !== undefined && (await isPortFree(spec.port)) ? spec.port : await freePort(),
        superuserPassword: spec.masterPassword,
        superuser: spec.masterUsername,
        user: options.user,
        log,
      });
      await server.init();
      await server.startOnFreePort();
      servers.set(spec.clusterId, server);
      return {
        get port() {
          return server.port;
        },
        running: () => server.isRunning(),
        stop: () => server.stop(),
      };
    },

    async remove(clusterId: string): Promise<void> {
      const server = servers.get(clusterId);
      servers.delete(clusterId);
      await server?.stop('immediate');
      await rm(folder(clusterId), { recursive: true, force: true });
      log.info({ cluster: clusterId }, 'created cluster server removed');
    },
  };
}
