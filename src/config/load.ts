import { readFile } from 'node:fs/promises';
import YAML from 'yaml';
import Value from 'typebox/value';
import { parseMajor } from '../clusters/catalog.js';
import { PgshiftError } from '../errors.js';
import { ConfigSchema, SECRET_KEYS, type Config } from './schema.js';

/** Tags pgshift puts on what it creates (`pgshift:pair`, `pgshift:role`); a configured tag may not use the prefix. */
export const GREEN_TAG_PREFIX = 'pgshift:';

/**
 * Loading is three steps, each reporting every problem it finds with the path of the
 * offending key: read and parse the YAML, substitute `${ENV}` references, validate
 * against the schema and the rules a schema cannot say. Nothing is half-loaded: either
 * a whole valid Config comes back or a ConfigError with one line per problem.
 */
export class ConfigError extends PgshiftError {
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super('PGSHIFT_ERR_CONFIG_INVALID', `invalid configuration in ${source}:\n${problems.join('\n')}`, {
      status: 400,
      details: { problems },
    });
    this.problems = problems;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export async function loadConfig(path: string, env: Env): Promise<Config> {
  return resolveConfig(await readConfigDocument(path), env, path);
}

/** Reads and parses the YAML file; the result is not validated yet. */
export async function readConfigDocument(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(path, [`(file): cannot read ${path}: ${reason}`]);
  }
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      path,
      doc.errors.map((e) => `(yaml) line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`),
    );
  }
  return doc.toJS() ?? {};
}

export function resolveConfig(raw: unknown, env: Env, source = 'config'): Config {
  const problems: string[] = [];
  const substituted = substituteEnv(raw, env, [], problems);
  if (problems.length > 0) throw new ConfigError(source, problems);

  // Environment values are strings; Convert turns "5432" into 5432 where the schema
  // wants a number, and leaves strings that only look numeric (hashes) alone.
  const converted = Value.Convert(ConfigSchema, structuredClone(substituted));
  const withDefaults = Value.Default(ConfigSchema, converted);
  const schemaProblems = [...unquotedVersions(substituted), ...describeSchemaErrors(withDefaults)];
  if (schemaProblems.length > 0) throw new ConfigError(source, schemaProblems);

  const config = withDefaults as Config;
  const ruleProblems = checkRules(config);
  if (ruleProblems.length > 0) throw new ConfigError(source, ruleProblems);

  hideSecrets(config);
  return config;
}

/**
 * Convert would turn an unquoted `engineVersion: 14.10` into "14.1", another version:
 * a version must be written as a string.
 */
function unquotedVersions(raw: unknown): string[] {
  const pairs = (raw as { pairs?: unknown } | null)?.pairs;
  if (!Array.isArray(pairs)) return [];
  return pairs.flatMap((pair: unknown, i) =>
    (['blue', 'green'] as const).flatMap((side) => {
      const version = (pair as Record<string, { create?: { engineVersion?: unknown } } | undefined> | null)?.[side]?.create?.engineVersion;
      return typeof version === 'number'
        ? [`${formatPath(['pairs', i, side, 'create', 'engineVersion'])}: must be quoted: YAML read the number ${version} (an unquoted 14.10 is 14.1)`]
        : [];
    }),
  );
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${NAME}` and `${NAME:-fallback}` in string values. */
function substituteEnv(node: unknown, env: Env, path: PathPart[], problems: string[]): unknown {
  if (typeof node === 'string') {
    if (!node.includes('${')) return node;
    const replaced = node.replace(ENV_REF, (_, name: string, fallback: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push(`${formatPath(path)}: environment variable ${name} is not set`);
      return '';
    });
    return replaced;
  }
  if (Array.isArray(node)) return node.map((item, i) => substituteEnv(item, env, [...path, i], problems));
  if (node !== null && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) out[key] = substituteEnv(value, env, [...path, key], problems);
    return out;
  }
  return node;
}

type PathPart = string | number;

export function formatPath(parts: readonly PathPart[]): string {
  let out = '';
  for (const part of parts) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out === '' ? '(root)' : out;
}

function pointerToPath(pointer: string): PathPart[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

interface SchemaIssue {
  keyword: string;
  instancePath: string;
  message: string;
  params: Record<string, unknown>;
}

/** Turns TypeBox's errors into one readable line per offending key. */
function describeSchemaErrors(value: unknown): string[] {
  const issues = Value.Errors(ConfigSchema, value) as unknown as SchemaIssue[];
  const lines = new Map<string, string>();
  const allowed = new Map<string, unknown[]>();
  for (const issue of issues) {
    const at = pointerToPath(issue.instancePath);
    switch (issue.keyword) {
      case 'boolean':
        // additionalProperties: false also reports each extra key as "schema is false";
        // the additionalProperties entry below names it better.
        break;
      case 'additionalProperties':
        for (const key of (issue.params.additionalProperties as string[]) ?? []) {
          const path = formatPath([...at, key]);
          lines.set(path, `${path}: unknown key`);
        }
        break;
      case 'required':
        for (const key of (issue.params.requiredProperties as string[]) ?? []) {
          const path = formatPath([...at, key]);
          lines.set(path, `${path}: is required`);
        }
        break;
      case 'const': {
        const path = formatPath(at);
        const values = allowed.get(path) ?? [];
        values.push(issue.params.allowedValue);
        allowed.set(path, values);
        break;
      }
      case 'anyOf':
        break;
      default: {
        const path = formatPath(at);
        if (!lines.has(path)) lines.set(path, `${path}: ${issue.message}`);
      }
    }
  }
  for (const [path, values] of allowed) {
    if (!lines.has(path)) lines.set(path, `${path}: must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  return [...lines.values()];
}

/** Rules that cross fields, which a JSON schema cannot express readably. */
function checkRules(config: Config): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  config.pairs.forEach((pair, i) => {
    const at = (...rest: PathPart[]) => formatPath(['pairs', i, ...rest]);
    if (ids.has(pair.id)) problems.push(`${at('id')}: duplicate pair id "${pair.id}"`);
    ids.add(pair.id);

    for (const side of ['blue', 'green'] as const) {
      const c = pair[side];
      if ((c.rdsClusterId === undefined) === (c.host === undefined)) {
        problems.push(`${at(side)}: give exactly one of rdsClusterId (Amazon RDS) or host (plain PostgreSQL)`);
      }
      if (c.host !== undefined && c.port === undefined) problems.push(`${at(side, 'port')}: is required with host`);
      if (c.rdsClusterId !== undefined) {
        for (const key of ['port', 'readerHost', 'readerPort'] as const) {
          if (c[key] !== undefined) problems.push(`${at(side, key)}: comes from RDS when rdsClusterId is set; remove it`);
        }
      }
      if ((c.readerHost === undefined) !== (c.readerPort === undefined) && c.rdsClusterId === undefined) {
        problems.push(`${at(side, 'readerHost')}: readerHost and readerPort go together`);
      }
    }
    for (const side of ['blue', 'green'] as const) {
      const host = pair[side].subscriptionHost;
      if (host === undefined) continue;
      if (/\s/.test(host)) problems.push(`${at(side, 'subscriptionHost')}: "${host}" is not a host name (it has spaces)`);
      else if (/^[^:]+:\d+$/.test(host)) problems.push(`${at(side, 'subscriptionHost')}: give the host alone ("${host.split(':')[0]}"); the port stays the endpoint's`);
    }
    if (pair.blue.create !== undefined) {
      problems.push(`${at('blue', 'create')}: only green can be created by pgshift; blue is the cluster that exists`);
    }
    const create = pair.green.create;
    if (create !== undefined) {
      if (pair.green.rdsClusterId === undefined) problems.push(`${at('green', 'rdsClusterId')}: is required with create (the new cluster's identifier)`);
      const major = parseMajor(create.engineVersion);
      if (major !== pair.green.expectedMajor) {
        problems.push(`${at('green', 'create', 'engineVersion')}: "${create.engineVersion}" is major ${major}, but green.expectedMajor is ${pair.green.expectedMajor}`);
      }
      if ((create.instanceClass === undefined) === (create.serverless === undefined)) {
        problems.push(`${at('green', 'create')}: give exactly one of instanceClass or serverless`);
      }
      if (create.instanceClass === 'db.serverless') {
        problems.push(`${at('green', 'create', 'instanceClass')}: for Serverless v2 give serverless: { minCapacity, maxCapacity } instead`);
      }
      if (create.serverless !== undefined && create.serverless.minCapacity > create.serverless.maxCapacity) {
        problems.push(`${at('green', 'create', 'serverless', 'minCapacity')}: must not exceed maxCapacity (${create.serverless.maxCapacity})`);
      }
      for (const key of Object.keys(create.tags ?? {})) {
        // The schema's key rule is not applied to a record's keys: checked here.
        if (key.length === 0 || key.length > 128) problems.push(`${at('green', 'create', 'tags', key)}: a tag key has 1 to 128 characters`);
        if (key.toLowerCase().startsWith('aws:') || key.startsWith(GREEN_TAG_PREFIX)) {
          problems.push(`${at('green', 'create', 'tags', key)}: tag keys starting with aws: or ${GREEN_TAG_PREFIX} are reserved`);
        }
      }
    }
    if (pair.green.expectedMajor <= pair.blue.expectedMajor) {
      problems.push(`${at('green', 'expectedMajor')}: must be greater than blue's (${pair.blue.expectedMajor})`);
    }

    const steps = pair.steps;
    for (let s = 1; s < steps.length; s++) {
      if (steps[s]! <= steps[s - 1]!) problems.push(`${at('steps', s)}: steps must increase strictly`);
    }
    if (steps[steps.length - 1] !== 100) problems.push(`${at('steps')}: the last read step must be 100`);

    if (sameName(pair.dns.reader.name, pair.dns.writer.name)) {
      problems.push(`${at('dns', 'writer', 'name')}: reader and writer need different record names`);
    }
    if (new Set(pair.databases).size !== pair.databases.length) problems.push(`${at('databases')}: duplicate database`);
    if (pair.replication.publication === pair.replication.subscription) {
      problems.push(`${at('replication', 'subscription')}: must differ from the publication name`);
    }
    const ownLogin = pair.blue.login.user;
    if (pair.appRoles?.includes(ownLogin)) {
      problems.push(`${at('appRoles')}: "${ownLogin}" is pgshift's own login and cannot be frozen`);
    }
    const usesRds = pair.blue.rdsClusterId !== undefined || pair.green.rdsClusterId !== undefined;
    if (!usesRds && pair.snapshotDir === undefined) {
      problems.push(`${at('snapshotDir')}: is required when a cluster is plain PostgreSQL (snapshots are pg_dump files)`);
    }
  });

  const names = new Map<string, string>();
  config.pairs.forEach((pair, i) => {
    for (const kind of ['reader', 'writer'] as const) {
      const key = `${pair.dns.hostedZoneId}|${normaliseName(pair.dns[kind].name)}`;
      const here = formatPath(['pairs', i, 'dns', kind, 'name']);
      const other = names.get(key);
      if (other !== undefined) problems.push(`${here}: the same record is already used at ${other}`);
      else names.set(key, here);
    }
  });

  const aws = config.aws;
  if ((aws.accessKeyId === undefined) !== (aws.secretAccessKey === undefined)) {
    problems.push('aws.secretAccessKey: accessKeyId and secretAccessKey go together');
  }
  const tokenNames = new Set<string>();
  config.auth.tokens.forEach((token, i) => {
    if (tokenNames.has(token.name)) problems.push(`${formatPath(['auth', 'tokens', i, 'name'])}: duplicate token name`);
    tokenNames.add(token.name);
  });
  return problems;
}

function normaliseName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function sameName(a: string, b: string): boolean {
  return normaliseName(a) === normaliseName(b);
}

/**
 * Secrets stay readable by code (`login.password`) but disappear from JSON.stringify,
 * pino and object spread, so a config logged by mistake leaks nothing.
 */
function hideSecrets(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(hideSecrets);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    if (SECRET_KEYS.has(key)) {
      Object.defineProperty(node, key, { value, enumerable: false, writable: false, configurable: false });
    } else {
      hideSecrets(value);
    }
  }
}
