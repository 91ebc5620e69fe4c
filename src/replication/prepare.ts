import { systemClock } from '../clock.js';
import { PgshiftError } from '../errors.js';
import type { PairPreparation, PreparationStep } from '../shift/ports.js';
import { initialCopyStep } from './copy-progress.js';
import { databasesStep } from './prepare-databases.js';
import { pgshiftTablesStep, publicationStep, subscriptionStep } from './prepare-replication.js';
import { greenLoginStep, rolesStep } from './prepare-roles.js';
import type { GreenPreparationOptions } from './prepare-support.js';
import { verifyStep } from './prepare-verify.js';
import { schemaStep } from './schema-copy.js';

export type { GreenPreparationOptions } from './prepare-support.js';

/**
 * The replication half of preparing green (the `prepare` transition), as journaled
 * steps for the shift core to run: pgshift's login on green, then roles, databases,
 * schema, pgshift's tables, publication, subscription, initial copy and the adoption
 * check. Each step adopts what exists, so a green that already replicates from blue
 * goes through all of them creating nothing; each undo removes only what its detail
 * says the step made. Logins: the admin login of each side for DDL, the subscription
 * source of `targets` for CREATE SUBSCRIPTION.
 */
export function greenPreparation(options: GreenPreparationOptions): Omit<PairPreparation, 'createGreen'> {
  if (options.databases.length === 0) {
    throw new PgshiftError('PGSHIFT_ERR_REPLICATION_NO_DATABASES', `pair ${options.pairId} names no database`, { status: 400 });
  }
  const env = {
    ...options,
    clock: options.clock ?? systemClock,
    log: options.log.child({ component: 'prepare', pair: options.pairId }),
  };
  const greenLogin = greenLoginStep(env);
  return {
    greenLogin,
    replication: (): PreparationStep[] => [
      rolesStep(env),
      databasesStep(env),
      schemaStep(env),
      pgshiftTablesStep(env),
      publicationStep(env),
      subscriptionStep(env),
      initialCopyStep(env),
      verifyStep(env),
    ],
  };
}
