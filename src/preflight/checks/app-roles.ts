import * as D from '../../defaults.js';
import type { CheckContext, CheckDefinition, FindingDraft } from '../check.js';
import { onGreen } from '../sql-text.js';
import type { PreflightSide } from '../targets.js';

/**
 * At cutover pgshift freezes writes by making the application roles NOLOGIN and ending
 * their sessions (a read-only database default is no freeze: a session can switch it
 * off). pgshift's login has CREATEROLE, not superuser, so it cannot alter a superuser,
 * Aurora's master user, itself, or (up to PostgreSQL 15) a role with REPLICATION.
 * Applications that connect as such a role keep writing during the cutover window.
 */

interface RoleRow {
  rolname: string;
  ident: string;
  exists: boolean;
  super: boolean;
  replication: boolean;
  rds_superuser: boolean;
}

const ROLES_SQL = `
  SELECT name AS rolname, quote_ident(name) AS ident, r.oid IS NOT NULL AS exists, COALESCE(r.rolsuper, false) AS super,
         COALESCE(r.rolreplication, false) AS replication,
         EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                  WHERE m.member = r.oid AND g.rolname = 'rds_superuser') AS rds_superuser
    FROM unnest($1::text[]) name LEFT JOIN pg_roles r ON r.rolname = name
   ORDER BY 1`;

export const appRolesCheck: CheckDefinition = {
  id: 'app-roles',
  title: 'application roles can be frozen at cutover',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const findings: FindingDraft[] = [];
    const configured = [...(ctx.pair.appRoles ?? [])];
    // Who is connected to the pair's databases right now, besides pgshift and replication.
    const sessions = await ctx.query<{ usename: string; sessions: number }>(
      'blue',
      `SELECT usename, count(*)::int AS sessions FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND datname = ANY ($1::text[]) AND usename IS NOT NULL
          AND pid <> pg_backend_pid() AND application_name NOT LIKE $2
        GROUP BY usename ORDER BY usename`,
      [ctx.pair.databases, `${D.PG_APPLICATION_NAME}%`],
    );
    const connected = new Map(sessions.map((s) => [s.usename, s.sessions]));
    const candidates = [...new Set([...configured, ...connected.keys()])].sort();

    if (configured.length === 0) {
      findings.push({
        severity: 'info',
        database: null,
        object: `pair ${ctx.pair.id}`,
        message:
          'the pair lists no appRoles: at cutover pgshift freezes every role that can log in, except its own login, ' +
          'the admin login, superusers, REPLICATION roles and Aurora administrators',
        remediation: "Nothing to do; list your applications' login roles in the pair's appRoles to freeze only those.",
      });
    }

    for (const side of ['blue', 'green'] as const) {
      findings.push(...(await checkPgshiftCanFreeze(ctx, side)));
    }

    const roles = await ctx.query<RoleRow>('blue', ROLES_SQL, [candidates]);
    for (const role of roles) {
      const isConfigured = configured.includes(role.rolname);
      const seen = connected.has(role.rolname) ? ` (${connected.get(role.rolname)} session(s) on blue now)` : '';
      if (!role.exists) {
        findings.push({
          severity: 'warning',
          database: null,
          object: `role ${role.rolname}`,
          message: `appRoles lists ${role.rolname}, which does not exist on blue`,
          remediation: "Correct the pair's appRoles (or create the role on blue and on green).",
        });
        continue;
      }
      const why = reasonNotFreezable(role, ctx.blue.pgshiftUser, ctx.blue.adminUser);
      if (why && isConfigured) {
        // The freeze refuses such a role rather than leave it writing: the cutover cannot run.
        findings.push({
          severity: 'blocker',
          database: null,
          object: `role ${role.rolname}`,
          message: `application role ${role.rolname}${seen} cannot be frozen at cutover: ${why.reason}`,
          remediation: why.remediation,
        });
      } else if (why) {
        findings.push({
          severity: 'warning',
          database: null,
          object: `role ${role.rolname}`,
          message: `${role.rolname}${seen} cannot be frozen at cutover: ${why.reason}; writes through it would go on while pgshift moves the writer, and be lost to green`,
          remediation: why.remediation,
        });
      } else if (configured.length > 0 && !isConfigured) {
        findings.push({
          severity: 'warning',
          database: null,
          object: `role ${role.rolname}`,
          message: `${role.rolname}${seen} is not in the pair's appRoles: pgshift freezes it at cutover only if it can write to a table of the pair's databases then; a role that writes in another way (through a function owned by another role) would go on writing and its writes be lost to green`,
          remediation: `Add ${role.rolname} to the pair's appRoles to have it frozen whatever its privileges (or stop connecting as it).`,
        });
      }
    }
    return findings;
  },
};

function reasonNotFreezable(role: RoleRow, pgshiftUser: string, adminUser: string): { reason: string; remediation: string } | null {
  const ownLogin = 'Give the application a login role of its own (no superuser, no REPLICATION) and list it in appRoles.';
  if (role.rolname === pgshiftUser) return { reason: `it is pgshift's own login`, remediation: ownLogin };
  if (role.rolname === adminUser) return { reason: 'it is the admin (master) login', remediation: ownLogin };
  if (role.super) return { reason: 'it is a superuser', remediation: ownLogin };
  if (role.rds_superuser) return { reason: 'it is a member of rds_superuser', remediation: ownLogin };
  if (role.replication) {
    return {
      reason: 'it has REPLICATION, and only a superuser may alter such a role',
      remediation: `ALTER ROLE ${role.ident} NOREPLICATION;  -- as the admin login, if the application does not stream WAL`,
    };
  }
  return null;
}

async function checkPgshiftCanFreeze(ctx: CheckContext, side: PreflightSide): Promise<FindingDraft[]> {
  const rows = await ctx.query<{ ident: string; createrole: boolean; super: boolean }>(
    side,
    `SELECT quote_ident(rolname) AS ident, rolcreaterole AS createrole, rolsuper AS super FROM pg_roles WHERE rolname = current_user`,
  );
  const me = rows[0];
  if (!me || me.createrole || me.super) return [];
  const user = ctx[side].pgshiftUser;
  const alter = `ALTER ROLE ${me.ident} CREATEROLE;  -- as the admin login`;
  return [
    {
      severity: 'blocker',
      database: null,
      object: `role ${user}`,
      message: `pgshift's login ${user} on ${side} lacks CREATEROLE: it cannot freeze the application roles when ${side} stops taking writes`,
      remediation: side === 'green' ? onGreen(alter) : alter,
    },
  ];
}
