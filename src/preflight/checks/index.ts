import type { CheckDefinition } from '../check.js';
import { appRolesCheck } from './app-roles.js';
import { extensionParityCheck, extensionsCheck } from './extensions.js';
import { databaseCompatibilityCheck, roleParityCheck, schemaParityCheck, tableParityCheck } from './parity.js';
import { ddlFenceCheck } from './ddl-fence.js';
import {
  foreignTablesCheck,
  largeObjectsCheck,
  materializedViewsCheck,
  partitionedTablesCheck,
  replicaIdentityCheck,
  sequencesCheck,
  unloggedTablesCheck,
} from './relations.js';
import { rdsCapacityCheck, rdsLogicalReplicationCheck, rdsParameterDifferencesCheck } from './rds.js';
import { replicationCapacityCheck, walLevelCheck } from './replication-settings.js';
import {
  encodingConversionsCheck,
  polymorphicsCheck,
  postfixOperatorsCheck,
  preparedTransactionsCheck,
  regColumnsCheck,
  systemCompositeColumnsCheck,
} from './upgrade.js';
import { trialRestoreCheck } from './trial-restore.js';
import { serverVersionsCheck } from './versions.js';

/** Every preflight check, in the order a report lists them. */
export const PREFLIGHT_CHECKS: readonly CheckDefinition[] = [
  serverVersionsCheck,
  extensionsCheck,
  extensionParityCheck,
  postfixOperatorsCheck,
  polymorphicsCheck,
  encodingConversionsCheck,
  regColumnsCheck,
  systemCompositeColumnsCheck,
  trialRestoreCheck,
  preparedTransactionsCheck,
  walLevelCheck,
  replicationCapacityCheck,
  rdsLogicalReplicationCheck,
  rdsCapacityCheck,
  rdsParameterDifferencesCheck,
  replicaIdentityCheck,
  unloggedTablesCheck,
  largeObjectsCheck,
  materializedViewsCheck,
  foreignTablesCheck,
  partitionedTablesCheck,
  sequencesCheck,
  databaseCompatibilityCheck,
  tableParityCheck,
  schemaParityCheck,
  roleParityCheck,
  appRolesCheck,
  ddlFenceCheck,
];
