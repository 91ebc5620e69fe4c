import * as D from '../defaults.js';

/**
 * Snapshot identifiers follow RDS's rule everywhere, so an id that works for a plain
 * server also works on RDS and is always a safe folder name: 1-63 letters, digits or
 * hyphens, starting with a letter, no trailing or double hyphen; stored lowercase.
 */
const MAX_LENGTH = 63;
const VALID = /^[a-z](?:-?[a-z0-9])*$/;

export function isValidSnapshotId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_LENGTH && VALID.test(id.toLowerCase());
}

export const SNAPSHOT_ID_RULE =
  'identifiers must be 1 to 63 letters, digits or hyphens, begin with a letter, and not end with a hyphen or contain two consecutive hyphens';

/** `pgshift-<label>-20240501-120310`, shortened so that it stays a valid identifier. */
export function createSnapshotId(label: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const cleanLabel = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const room = MAX_LENGTH - D.SNAPSHOT_ID_PREFIX.length - stamp.length - 2;
  const shortLabel = cleanLabel.slice(0, room).replace(/-+$/, '');
  return [D.SNAPSHOT_ID_PREFIX, shortLabel, stamp].filter((part) => part !== '').join('-');
}
