import { RdsApiError } from './errors.js';

/**
 * The AWS Query protocol's request side: form-encoded parameters in the POST body (or
 * the query string), with lists flattened as `Name.Member.N[.Field]` and 1-based
 * indexes, e.g. `Filters.Filter.1.Values.Value.2=aurora-postgresql`.
 */
export type QueryParams = ReadonlyMap<string, string>;

/** Body parameters win over query-string parameters of the same name. */
export function readQueryParams(body: string, search: string): QueryParams {
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(search)) params.set(key, value);
  for (const [key, value] of new URLSearchParams(body)) params.set(key, value);
  return params;
}

/** A scalar parameter; blank counts as absent. */
export function readString(params: QueryParams, name: string): string | undefined {
  const value = params.get(name);
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function requireString(params: QueryParams, name: string): string {
  const value = readString(params, name);
  if (value === undefined) throw new RdsApiError('MissingParameter', 400, `The request must contain the parameter ${name}`);
  return value;
}

export function readInteger(params: QueryParams, name: string): number | undefined {
  const raw = readString(params, name);
  if (raw === undefined) return undefined;
  if (!/^-?\d+$/.test(raw.trim())) throw new RdsApiError('InvalidParameterValue', 400, `Invalid value ${raw} for ${name}: not an integer`);
  return Number(raw);
}

export function readNumber(params: QueryParams, name: string): number | undefined {
  const raw = readString(params, name);
  if (raw === undefined) return undefined;
  const value = Number(raw.trim());
  if (!Number.isFinite(value)) throw new RdsApiError('InvalidParameterValue', 400, `Invalid value ${raw} for ${name}: not a number`);
  return value;
}

export function readBoolean(params: QueryParams, name: string): boolean | undefined {
  const raw = readString(params, name);
  if (raw === undefined) return undefined;
  const value = raw.trim().toLowerCase();
  if (value !== 'true' && value !== 'false') throw new RdsApiError('InvalidParameterValue', 400, `Invalid value ${raw} for ${name}: not a boolean`);
  return value === 'true';
}

/** Items of a flattened list `{prefix}.{n}` (or `{prefix}.{n}.{field}`), in index order; gaps end the list as in AWS. */
export function readIndexed(params: QueryParams, prefix: string): number[] {
  const indexes = new Set<number>();
  const pattern = new RegExp(`^${escapeRegExp(prefix)}\\.(\\d+)(?:\\.|$)`);
  for (const key of params.keys()) {
    const match = pattern.exec(key);
    if (match) indexes.add(Number(match[1]));
  }
  const sorted = [...indexes].sort((a, b) => a - b);
  const contiguous: number[] = [];
  for (const [i, n] of sorted.entries()) {
    if (n !== i + 1) break;
    contiguous.push(n);
  }
  return contiguous;
}

export function readStringList(params: QueryParams, prefix: string): string[] {
  return readIndexed(params, prefix).map((n) => params.get(`${prefix}.${n}`) ?? '');
}

export interface Filter {
  name: string;
  values: string[];
}

/** `Filters.Filter.N.Name` + `Filters.Filter.N.Values.Value.M`. */
export function readFilters(params: QueryParams): Filter[] {
  return readIndexed(params, 'Filters.Filter').map((n) => {
    const name = readString(params, `Filters.Filter.${n}.Name`);
    if (name === undefined) throw new RdsApiError('MissingParameter', 400, `The request must contain the parameter Filters.Filter.${n}.Name`);
    const values = readStringList(params, `Filters.Filter.${n}.Values.Value`);
    if (values.length === 0) throw new RdsApiError('InvalidParameterValue', 400, `The filter ${name} needs at least one value`);
    return { name, values };
  });
}

export interface Tag {
  key: string;
  value: string;
}

/** `Tags.Tag.N.Key` + `Tags.Tag.N.Value`. */
export function readTags(params: QueryParams): Tag[] {
  return readIndexed(params, 'Tags.Tag').map((n) => {
    const key = readString(params, `Tags.Tag.${n}.Key`);
    if (key === undefined) throw new RdsApiError('InvalidParameterValue', 400, `Tag ${n} has no Key`);
    return { key, value: params.get(`Tags.Tag.${n}.Value`) ?? '' };
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
