/**
 * What becomes of a staging leftover the teardown could not delete, in words for the CLI
 * and the dashboard: a cluster is swept at the next start (found by its tags); a snapshot
 * of a cluster that is gone is found by nothing, so it is the operator's to delete.
 */
export function notRemovedHint(n: { clusterId: string; snapshotId?: string | undefined }): string {
  return n.snapshotId ? `delete it: aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier ${n.snapshotId}` : "the next start's sweep tries again";
}
