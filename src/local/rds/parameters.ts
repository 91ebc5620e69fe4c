/**
 * The Aurora PostgreSQL cluster parameters the stand-in knows, with the engine defaults
 * RDS lists for them (formulas included, as DescribeDBClusterParameters shows them).
 * Not the ~400 of a real group: the ones pgshift reads and enough others that a listing
 * needs more than one page at the smallest MaxRecords (20).
 */
export interface ParameterSpec {
  name: string;
  /** The engine default as RDS lists it; absent: RDS lists the parameter without a value. */
  defaultValue?: string;
  /** `static`: takes effect after a reboot of each instance; `dynamic`: at once. */
  applyType: 'static' | 'dynamic';
  dataType: 'boolean' | 'integer' | 'string' | 'list';
  allowedValues?: string;
  description: string;
  /** RDS keeps some for itself (Source `system`). */
  modifiable?: boolean;
}

export const ENGINE_PARAMETERS: readonly ParameterSpec[] = [
  { name: 'application_name', applyType: 'dynamic', dataType: 'string', description: 'Sets the application name to be reported in statistics and logs.' },
  { name: 'autovacuum', defaultValue: '1', applyType: 'dynamic', dataType: 'boolean', allowedValues: '0,1', description: 'Starts the autovacuum subprocess.' },
  { name: 'autovacuum_max_workers', defaultValue: 'GREATEST({DBInstanceClassMemory/64371566592},3)', applyType: 'static', dataType: 'integer', allowedValues: '1-8388607', description: 'Sets the maximum number of simultaneously running autovacuum worker processes.' },
  { name: 'client_encoding', defaultValue: 'UTF8', applyType: 'dynamic', dataType: 'string', description: "Sets the client's character set encoding." },
  { name: 'default_transaction_isolation', applyType: 'dynamic', dataType: 'list', allowedValues: 'serializable,repeatable read,read committed,read uncommitted', description: 'Sets the transaction isolation level of each new transaction.' },
  { name: 'effective_cache_size', defaultValue: 'SUM({DBInstanceClassMemory/12038},-50003)', applyType: 'dynamic', dataType: 'integer', allowedValues: '1-2147483647', description: "Sets the planner's assumption about the size of the disk cache." },
  { name: 'idle_in_transaction_session_timeout', defaultValue: '86400000', applyType: 'dynamic', dataType: 'integer', allowedValues: '0-2147483647', description: 'Sets the maximum allowed duration of any idling transaction.' },
  { name: 'lock_timeout', applyType: 'dynamic', dataType: 'integer', allowedValues: '0-2147483647', description: 'Sets the maximum allowed duration (in milliseconds) of any wait for a lock. 0 turns this off.' },
  { name: 'log_min_duration_statement', applyType: 'dynamic', dataType: 'integer', allowedValues: '-1-2147483647', description: 'Sets the minimum execution time above which statements will be logged.' },
  { name: 'log_statement', applyType: 'dynamic', dataType: 'list', allowedValues: 'none,ddl,mod,all', description: 'Sets the type of statements logged.' },
  { name: 'maintenance_work_mem', defaultValue: 'GREATEST({DBInstanceClassMemory*1024/63963136},65536)', applyType: 'dynamic', dataType: 'integer', allowedValues: '1024-2147483647', description: 'Sets the maximum memory to be used for maintenance operations.' },
  { name: 'max_connections', defaultValue: 'LEAST({DBInstanceClassMemory/9531392},5000)', applyType: 'static', dataType: 'integer', allowedValues: '6-262143', description: 'Sets the maximum number of concurrent connections.' },
  { name: 'max_logical_replication_workers', defaultValue: '4', applyType: 'static', dataType: 'integer', allowedValues: '0-262143', description: 'Maximum number of logical replication worker processes.' },
  { name: 'max_replication_slots', defaultValue: '20', applyType: 'static', dataType: 'integer', allowedValues: '5-8388607', description: 'Sets the maximum number of replication slots that the server can support.' },
  { name: 'max_sync_workers_per_subscription', defaultValue: '2', applyType: 'dynamic', dataType: 'integer', allowedValues: '0-262143', description: 'Maximum number of table synchronization workers per subscription.' },
  { name: 'max_wal_senders', defaultValue: '20', applyType: 'static', dataType: 'integer', allowedValues: '5-8388607', description: 'Sets the maximum number of simultaneously running WAL sender processes.' },
  { name: 'max_worker_processes', defaultValue: 'GREATEST(${DBInstanceVCPU*2},8)', applyType: 'static', dataType: 'integer', allowedValues: '0-262143', description: 'Sets the maximum number of concurrent worker processes.' },
  { name: 'random_page_cost', applyType: 'dynamic', dataType: 'string', allowedValues: '0-2147483647', description: "Sets the planner's estimate of the cost of a nonsequentially fetched disk page." },
  { name: 'rds.force_ssl', defaultValue: '0', applyType: 'dynamic', dataType: 'boolean', allowedValues: '0,1', description: 'Force SSL connections.' },
  { name: 'rds.logical_replication', defaultValue: '0', applyType: 'static', dataType: 'boolean', allowedValues: '0,1', description: 'Enables logical decoding.' },
  { name: 'search_path', applyType: 'dynamic', dataType: 'string', description: 'Sets the schema search order for names that are not schema-qualified.' },
  { name: 'shared_preload_libraries', defaultValue: 'pg_stat_statements', applyType: 'static', dataType: 'list', allowedValues: 'auto_explain,orafce,pgaudit,pglogical,pg_bigm,pg_cron,pg_hint_plan,pg_prewarm,pg_similarity,pg_stat_statements,pg_tle,pg_transport,plprofiler', description: 'Lists shared libraries to preload into server.' },
  { name: 'ssl', defaultValue: '1', applyType: 'dynamic', dataType: 'boolean', allowedValues: '1', description: 'Enables SSL connections.', modifiable: false },
  { name: 'statement_timeout', applyType: 'dynamic', dataType: 'integer', allowedValues: '0-2147483647', description: 'Sets the maximum allowed duration (in milliseconds) of any statement.' },
  { name: 'temp_file_limit', applyType: 'dynamic', dataType: 'integer', allowedValues: '-1-2147483647', description: 'Limits the total size of all temporary files used by each process.' },
  { name: 'timezone', defaultValue: 'UTC', applyType: 'dynamic', dataType: 'string', description: 'Sets the time zone for displaying and interpreting time stamps.' },
  { name: 'track_commit_timestamp', applyType: 'static', dataType: 'boolean', allowedValues: '0,1', description: 'Collects transaction commit time.' },
  { name: 'wal_sender_timeout', defaultValue: '60000', applyType: 'dynamic', dataType: 'integer', allowedValues: '0-3600000', description: 'Sets the maximum time to wait for WAL replication.' },
  { name: 'work_mem', applyType: 'dynamic', dataType: 'integer', allowedValues: '64-2147483647', description: 'Sets the maximum memory to be used for query workspaces.' },
];

export function parameterSpec(name: string): ParameterSpec | undefined {
  return ENGINE_PARAMETERS.find((p) => p.name === name);
}

/** The family of a major's groups, e.g. `aurora-postgresql14`. */
export function parameterGroupFamily(engine: string, major: number): string {
  return `${engine}${major}`;
}

/** RDS's own group of a family; it cannot be modified. */
export function defaultParameterGroup(family: string): string {
  return `default.${family}`;
}
