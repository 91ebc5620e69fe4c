import * as D from '../defaults.js';
import { PgshiftError } from '../errors.js';
import type { ConnectTarget } from '../postgres/connect.js';
import type { PoolSet } from './pool-set.js';

/**
 * Roles AWS manages on RDS and Aurora. They are never application roles, and pgshift
 * could not alter them anyway.
 */
export const PLATFORM_ROLES = ['rdsadmin', 'rdsrepladmin', 'rds_superuser', 'rdstopmgr', 'rds_replication', 'rds_password'];

export interface RoleFacts {
  name: string;
  canLogin: boolean;
  superuser: boolean;
  replication: boolean;
  /** Member of rds_superuser (an Aurora administrator). */
  platformAdmin: boolean;
}

export interface AppRoleChoice {
  /** Application roles present on the side, with whether they can log in now. */
  roles: RoleFacts[];
  /** Configured roles that do not exist on the side. */
  missing: string[];
}

/**
 * The roles applications log in as: the configured list and any other login role in
 * `writers` (those that can write to a table of the pair's databases), or else every
 * role that can log in except pgshift's own login, the admin login, superusers,
 * replication roles, Aurora administrators and platform roles. A configured role of one of those kinds
 * is refused (PGSHIFT_ERR_FREEZE_ROLE_NOT_FREEZABLE, 409): freezing it would stop
 * pgshift or replication, or is not possible, and silently skipping it would leave an
 * application able to write.
 */
export async function chooseApplicationRoles(
  pools: PoolSet,
  target: ConnectTarget,
  options: { configured?: readonly string[]; pgshiftUser: string; adminUser: string; writers?: readonly string[] },
): Promise<AppRoleChoice> {
  const rows = await pools.query<{
    name: string;
    can_login: boolean;
    superuser: boolean;
    replication: boolean;
    platform_admin: boolean;
  }>(
    target,
    `SELECT r.rolname AS name, r.rolcanlogin AS can_login, r.rolsuper AS superuser, r.rolreplication AS replication,
            EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid AND g.rolname = 'rds_superuser') AS platform_admin
       FROM pg_roles r
      WHERE r.rolname !~ '^pg_'
      ORDER BY r.rolname`,
  );
  const all = rows.map(
    (r): RoleFacts => ({
      name: r.name,
      canLogin: r.can_login,
      superuser: r.superuser,
      replication: r.replication,
      platformAdmin: r.platform_admin,
    }),
  );
  const reasonNotFreezable = (role: RoleFacts): string | null => {
    if (role.name === options.pgshiftUser) return "it is pgshift's own login";
    if (role.name === options.adminUser) return 'it is the admin login';
    if (role.superuser) return 'it is a superuser';
    if (role.replication) return 'it has REPLICATION (replication connects as it)';
    if (role.platformAdmin) return 'it is a member of rds_superuser';
    if (PLATFORM_ROLES.includes(role.name)) return 'it is managed by the platform';
    return null;
  };

  if (options.configured) {
    const byName = new Map(all.map((r) => [r.name, r]));
    const refused = options.configured
      .map((name) => ({ name, role: byName.get(name) }))
      .flatMap(({ name, role }) => {
        const reason = role ? reasonNotFreezable(role) : null;
        return reason ? [`${name}: ${reason}`] : [];
      });
    if (refused.length > 0) {
      throw new PgshiftError(
        'PGSHIFT_ERR_FREEZE_ROLE_NOT_FREEZABLE',
        `appRoles lists roles pgshift must not or cannot freeze: ${refused.join('; ')}`,
        { status: 409, details: { refused } },
      );
    }
    // A login role that can write and is not listed would keep writing through a freeze: it is frozen too.
    const unlisted = (options.writers ?? []).filter((name) => !options.configured!.includes(name));
    const writers = unlisted.flatMap((name) => {
      const role = byName.get(name);
      return role && role.canLogin && reasonNotFreezable(role) === null ? [role] : [];
    });
    return {
      roles: [...options.configured.flatMap((name) => (byName.has(name) ? [byName.get(name)!] : [])), ...writers],
      missing: options.configured.filter((name) => !byName.has(name)),
    };
  }
  return { roles: all.filter((r) => r.canLogin && reasonNotFreezable(r) === null), missing: [] };
}

/**
 * Login roles that may write to a table of the database `target` connects to: INSERT,
 * UPDATE, DELETE or TRUNCATE on a table outside the system schemas and pgshift's, held
 * directly, through a group or as owner (has_table_privilege follows membership).
 */
export async function loginRolesThatWrite(pools: PoolSet, target: ConnectTarget): Promise<string[]> {
  const rows = await pools.query<{ rolname: string }>(
    target,
    `SELECT r.rolname FROM pg_roles r
      WHERE r.rolcanlogin AND r.rolname !~ '^pg_'
        AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${D.PGSHIFT_SCHEMA}')
                       AND n.nspname !~ '^pg_toast'
                       AND has_table_privilege(r.oid, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
      ORDER BY 1`,
  );
  return rows.map((r) => r.rolname);
}
