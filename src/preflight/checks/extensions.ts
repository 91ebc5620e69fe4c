import * as D from '../../defaults.js';
import { listNames, type CheckContext, type CheckDefinition, type FindingDraft } from '../check.js';
import { compareVersions, onGreen, sqlLiteral } from '../sql-text.js';

interface InstalledExtension {
  oid: string;
  name: string;
  ident: string;
  version: string;
  schema: string;
}

interface AvailableVersion {
  name: string;
  version: string;
  default_version: string;
}

const INSTALLED_SQL = `
  SELECT e.oid::int8::text AS oid, e.extname AS name, quote_ident(e.extname) AS ident,
         e.extversion AS version, quote_ident(n.nspname) AS schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   ORDER BY e.extname`;

const AVAILABLE_SQL = `
  SELECT v.name, v.version, a.default_version
    FROM pg_available_extension_versions v JOIN pg_available_extensions a ON a.name = v.name`;

/**
 * Aurora lists the extensions it supports in `rds.extensions` (not settable) and lets
 * the customer narrow that with `rds.allowed_extensions` (default `*`). Both are absent
 * on plain PostgreSQL, where every extension whose files are installed is allowed.
 */
const ALLOWED_SQL = `
  SELECT current_setting('rds.extensions', true) AS supported,
         current_setting('rds.allowed_extensions', true) AS allowed`;

function parseList(value: string | null): Set<string> | null {
  if (value === null || value.trim() === '' || value.trim() === '*') return null;
  return new Set(value.split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

function incompatible(ext: InstalledExtension, greenMajor: number): string {
  return `Extension incompatible: ${ext.name} v${ext.version} not compatible with Postgres v${greenMajor}`;
}

/**
 * Every extension on blue must exist on green at blue's version: pgshift creates the
 * schema on green at the versions blue runs, so that both sides behave alike while
 * reads are shifted, and an in-place upgrade (pg_upgrade, Aurora's MVU) needs the same.
 */
export const extensionsCheck: CheckDefinition = {
  id: 'extensions',
  title: 'extensions on blue are available on green',
  scope: 'database',
  sides: ['blue', 'green'],
  async run(ctx) {
    const [installed, available, allowedRows, onGreenRows] = await Promise.all([
      ctx.query<InstalledExtension>('blue', INSTALLED_SQL),
      ctx.query<AvailableVersion>('green', AVAILABLE_SQL),
      ctx.query<{ supported: string | null; allowed: string | null }>('green', ALLOWED_SQL),
      ctx.query<InstalledExtension>('green', INSTALLED_SQL),
    ]);
    const supported = parseList(allowedRows[0]?.supported ?? null);
    const allowed = parseList(allowedRows[0]?.allowed ?? null);
    const versionsOnGreen = new Map<string, { versions: string[]; defaultVersion: string }>();
    for (const row of available) {
      const entry = versionsOnGreen.get(row.name) ?? { versions: [], defaultVersion: row.default_version };
      entry.versions.push(row.version);
      versionsOnGreen.set(row.name, entry);
    }
    for (const entry of versionsOnGreen.values()) entry.versions.sort(compareVersions);
    // Before prepare green has none of the pair's databases: what its maintenance database has installed is not theirs.
    const greenInstalled = new Map(ctx.phase === 'prepare' ? [] : onGreenRows.map((e) => [e.name, e.version]));

    const findings: FindingDraft[] = [];
    for (const ext of installed) {
      const object = `extension ${ext.name}`;
      const offered = versionsOnGreen.get(ext.name);
      if (supported && !supported.has(ext.name)) {
        findings.push({
          severity: 'blocker',
          object,
          message: `${incompatible(ext, ctx.green.major)}: green does not support it (it is not in rds.extensions)`,
          remediation: await removalChoices(ctx, ext, false),
        });
        continue;
      }
      // The customer's list governs CREATE EXTENSION only: what green already has is not affected.
      if (allowed && !allowed.has(ext.name) && !greenInstalled.has(ext.name)) {
        findings.push({
          severity: 'blocker',
          object,
          message: `${incompatible(ext, ctx.green.major)}: green's rds.allowed_extensions does not allow it`,
          remediation: `Add ${ext.name} to rds.allowed_extensions in green's DB cluster parameter group, then run preflight again.`,
        });
        continue;
      }
      if (!offered) {
        findings.push({
          severity: 'blocker',
          object,
          message: `${incompatible(ext, ctx.green.major)}: green (PostgreSQL ${ctx.green.version}) does not offer ${ext.name} in any version`,
          remediation: await removalChoices(ctx, ext, true),
        });
        continue;
      }
      if (!offered.versions.includes(ext.version)) {
        findings.push(await versionFinding(ctx, ext, offered.versions, offered.defaultVersion));
        continue;
      }
      const greenVersion = greenInstalled.get(ext.name);
      const current = greenVersion ?? ext.version;
      if (compareVersions(offered.defaultVersion, ext.version) > 0 && compareVersions(offered.defaultVersion, current) > 0) {
        findings.push({
          severity: 'info',
          object,
          message:
            `${ext.name}: blue runs ${ext.version}, which green offers; green's default is ${offered.defaultVersion}. ` +
            `pgshift keeps green at ${current} while both sides serve traffic; update it once blue is retired.`,
          remediation: onGreen(`ALTER EXTENSION ${ext.ident} UPDATE TO ${sqlLiteral(offered.defaultVersion)};  -- after cutover`),
        });
      }
    }
    return findings;
  },
};

/** Blue's version is not on green: can blue get to one green has by ALTER EXTENSION ... UPDATE? */
async function versionFinding(
  ctx: CheckContext,
  ext: InstalledExtension,
  greenVersions: string[],
  greenDefault: string,
): Promise<FindingDraft> {
  const paths = await ctx.query<{ target: string; path: string }>(
    'blue',
    `SELECT target, path FROM pg_extension_update_paths($1) WHERE source = $2 AND path IS NOT NULL`,
    [ext.name, ext.version],
  );
  const reachable = paths.filter((p) => greenVersions.includes(p.target));
  const offers = `green offers ${greenVersions.join(', ')} (default ${greenDefault})`;
  if (reachable.length === 0) {
    return {
      severity: 'blocker',
      object: `extension ${ext.name}`,
      message: `${incompatible(ext, ctx.green.major)}: ${offers}; blue has no update path from ${ext.version} to any of them`,
      remediation: await removalChoices(ctx, ext, true, greenVersions),
    };
  }
  // Green's default when blue can reach it, else the newest version both have.
  const target =
    reachable.find((p) => p.target === greenDefault) ??
    reachable.sort((a, b) => compareVersions(b.target, a.target))[0]!;
  return {
    severity: 'blocker',
    object: `extension ${ext.name}`,
    message:
      `${incompatible(ext, ctx.green.major)}: ${offers}; ` +
      `blue can update to ${target.target} (path ${target.path}): run the remediation on blue`,
    remediation: `ALTER EXTENSION ${ext.ident} UPDATE TO ${sqlLiteral(target.target)};`,
  };
}

/**
 * The ways out when blue cannot simply update: bring a version to green (or to blue),
 * replace the extension, or drop it with everything that uses it, listed from pg_depend
 * so that nobody runs CASCADE blind.
 */
async function removalChoices(
  ctx: CheckContext,
  ext: InstalledExtension,
  canInstall: boolean,
  greenVersions: string[] = [],
): Promise<string> {
  const dependents = await listDependents(ctx, ext.oid);
  const choices: string[] = [];
  if (canInstall) {
    choices.push(
      greenVersions.length > 0
        ? `Install on blue a release of ${ext.name} that can update from ${ext.version} to one of ${greenVersions.join(', ')}, then ALTER EXTENSION ${ext.ident} UPDATE TO '<that version>'; on blue.`
        : `Install ${ext.name} ${ext.version} (or a version blue can update to) on green's server, then run preflight again.`,
    );
  }
  choices.push(`Replace ${ext.name} with something green offers, move what uses it, then DROP EXTENSION ${ext.ident}; on blue.`);
  const drops =
    dependents.length === 0
      ? 'nothing else depends on it'
      : `this also drops ${dependents.length} object(s): ${listNames(dependents, D.PREFLIGHT_MAX_LISTED_OBJECTS)}`;
  choices.push(`DROP EXTENSION ${ext.ident} CASCADE;  -- on blue; ${drops}`);
  return choices.map((c, i) => `${i + 1}. ${c}`).join('\n');
}

/**
 * Objects outside the extension that a DROP EXTENSION ... CASCADE would take along:
 * normal dependencies on the extension, on its members, or on what its members own
 * internally (array types). A view shows as the view, not as its rewrite rule.
 */
async function listDependents(ctx: CheckContext, extensionOid: string): Promise<string[]> {
  const rows = await ctx.query<{ object: string }>(
    'blue',
    `WITH members AS (
       SELECT d.classid, d.objid FROM pg_depend d
        WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = $1::oid AND d.deptype = 'e'
       UNION
       SELECT i.classid, i.objid FROM pg_depend i
         JOIN pg_depend m ON m.classid = i.refclassid AND m.objid = i.refobjid
        WHERE m.refclassid = 'pg_extension'::regclass AND m.refobjid = $1::oid AND m.deptype = 'e' AND i.deptype = 'i'
       UNION
       SELECT 'pg_extension'::regclass, $1::oid
     )
     SELECT DISTINCT CASE WHEN d.classid = 'pg_rewrite'::regclass
                          THEN (SELECT 'view ' || r.ev_class::regclass::text FROM pg_rewrite r WHERE r.oid = d.objid)
                          ELSE pg_describe_object(d.classid, d.objid, d.objsubid) END AS object
       FROM pg_depend d JOIN members m ON d.refclassid = m.classid AND d.refobjid = m.objid
      WHERE d.deptype = 'n'
        AND NOT EXISTS (SELECT 1 FROM members x WHERE x.classid = d.classid AND x.objid = d.objid)
      ORDER BY 1`,
    [extensionOid],
  );
  return rows.map((r) => r.object);
}

/**
 * Green must have every extension of blue created in the database (the schema copy does
 * it), at blue's version or a compatible one, or rows using its types cannot arrive.
 */
export const extensionParityCheck: CheckDefinition = {
  id: 'extension-parity',
  title: 'extensions of blue are created on green',
  scope: 'database',
  sides: ['blue', 'green'],
  createdByPrepare: "green's extensions, at blue's versions",
  async run(ctx) {
    const [blue, green, available] = await Promise.all([
      ctx.query<InstalledExtension>('blue', INSTALLED_SQL),
      ctx.query<InstalledExtension>('green', INSTALLED_SQL),
      ctx.query<AvailableVersion>('green', AVAILABLE_SQL),
    ]);
    const greenByName = new Map(green.map((e) => [e.name, e]));
    const offered = new Set(available.map((a) => `${a.name}\u0000${a.version}`));
    const findings: FindingDraft[] = [];
    for (const ext of blue) {
      const there = greenByName.get(ext.name);
      const object = `extension ${ext.name}`;
      if (!there) {
        // When green does not offer blue's version the extensions check says what to do first.
        if (!offered.has(`${ext.name}\u0000${ext.version}`)) continue;
        findings.push({
          severity: 'blocker',
          object,
          message: `${ext.name} ${ext.version} is installed on blue but not created on green's ${ctx.database}: tables that use its types cannot be created or receive rows there`,
          remediation: onGreen(`CREATE EXTENSION IF NOT EXISTS ${ext.ident} VERSION ${sqlLiteral(ext.version)} SCHEMA ${ext.schema};`),
        });
        continue;
      }
      const order = compareVersions(there.version, ext.version);
      if (order < 0) {
        findings.push({
          severity: 'warning',
          object,
          message: `${ext.name} is ${ext.version} on blue but older (${there.version}) on green: objects of the newer version that blue's schema uses may be missing on green`,
          remediation: onGreen(`ALTER EXTENSION ${there.ident} UPDATE TO ${sqlLiteral(ext.version)};`),
        });
      } else if (order > 0) {
        findings.push({
          severity: 'info',
          object,
          message: `${ext.name} is ${ext.version} on blue and ${there.version} on green (created at green's default): data types are the same, functions may differ in detail while both sides serve reads`,
          remediation: 'Nothing to do; after cutover green already runs the newer version.',
        });
      }
    }
    return findings;
  },
};
