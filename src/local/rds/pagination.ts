import * as D from '../../defaults.js';
import { RdsApiError } from './errors.js';

export interface Page<T> {
  items: T[];
  /** Present when more items follow; pass it back as Marker. */
  marker?: string;
}

/**
 * Marker/MaxRecords paging of the RDS Describe calls. `items` must be sorted by `keyOf`
 * ascending; the marker names the last key returned, so a page stays correct when
 * items are added or removed between calls.
 */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => string, marker: string | undefined, maxRecords: number | undefined): Page<T> {
  const max = maxRecords ?? D.LAB_RDS_DEFAULT_MAX_RECORDS;
  if (!Number.isInteger(max) || max < D.LAB_RDS_MIN_MAX_RECORDS || max > D.LAB_RDS_MAX_MAX_RECORDS) {
    throw new RdsApiError(
      'InvalidParameterValue',
      400,
      `Invalid value ${maxRecords} for MaxRecords. Must be between ${D.LAB_RDS_MIN_MAX_RECORDS} and ${D.LAB_RDS_MAX_MAX_RECORDS}`,
    );
  }
  const after = marker === undefined ? undefined : decodeMarker(marker);
  const rest = after === undefined ? items : items.filter((item) => keyOf(item) > after);
  const page = rest.slice(0, max);
  const last = page[page.length - 1];
  return rest.length > max && last !== undefined ? { items: page, marker: encodeMarker(keyOf(last)) } : { items: page };
}

function encodeMarker(key: string): string {
  return Buffer.from(JSON.stringify({ after: key })).toString('base64url');
}

function decodeMarker(marker: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { after?: unknown }).after === 'string') {
      return (parsed as { after: string }).after;
    }
  } catch {
    // Falls through to the error below.
  }
  throw new RdsApiError('InvalidParameterValue', 400, `Invalid Marker: ${marker}`);
}
