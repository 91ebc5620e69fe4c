import type { Login } from '../../config/schema.js';

/**
 * What the RDS stand-in needs to know of one lab server, so that it reflects the lab
 * without depending on the Lab class: the cluster identifier it stands for, where the
 * server listens (read at every call: the port may change across lab restarts), a
 * login that can read everything (the lab's superuser, Aurora's master user), and
 * whether the server process runs.
 */
export interface LabClusterView {
  id: string;
  major: number;
  readonly port: number;
  admin: Login;
  running(): Promise<boolean>;
}

export interface LabClusterSource {
  clusters(): LabClusterView[];
}
