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

/** What the stand-in asks of the lab for a cluster created through CreateDBCluster. */
export interface LabServerSpec {
  clusterId: string;
  major: number;
  /** The new server's superuser, as RDS makes the master user. */
  masterUsername: string;
  masterPassword: string;
  /** The port the server had before a restart; a free one is chosen when taken or absent. */
  port?: number;
}

/** A running server of a created cluster. */
export interface LabServerHandle {
  readonly port: number;
  running(): Promise<boolean>;
  /** Stops the process and keeps its data (a lab stop). */
  stop(): Promise<void>;
}

/**
 * How the stand-in gets servers for the clusters it is asked to create: the lab gives
 * it this (real PostgreSQL servers as the lab's OS user), tests may give another. Both
 * methods are safe to repeat.
 */
export interface LabServerFactory {
  /** The majors the lab has binaries for: what CreateDBCluster accepts as EngineVersion. */
  majors(): readonly number[];
  /** Creates the server's data (initdb with the master login) unless it exists, and starts it. */
  start(spec: LabServerSpec): Promise<LabServerHandle>;
  /** Stops the server of a deleted cluster and removes its data. */
  remove(clusterId: string): Promise<void>;
}
