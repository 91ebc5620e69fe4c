import { finalError } from '../errors.js';
import * as D from '../defaults.js';
import { isPgshiftError } from '../errors.js';
import { ident, literal, withClient } from '../postgres/connect.js';
import type { PreparationStep, StepDetail } from '../shift/ports.js';
import { adminOn, asAdmin, existingDatabases, listIn, union, type PreparationEnv } from './prepare-support.js';
import { copyRoles, roleAttributes, rolesToCopy, type RoleRow } from './setup.js';

/**
 * What pgshift's login gets on a green whose blue has no role of that name: what it
 * needs to watch replication (pg_monitor), end application sessions
 * (pg_signal_backend), freeze application roles (CREATEROLE) and read slots
 * (REPLICATION); never superuser. The lab gives its pgshift role the same.
 */
export const PGSHIFT_LOGIN_ATTRIBUTES = ['LOGIN', 'REPLICATION', 'CREATEROLE', 'NOSUPERUSER'] as const;
export const PGSHIFT_LOGIN_GROUPS = ['pg_monitor', 'pg_signal_backend'] as const;
/** What stands for the REPLICATION attribute on RDS and Aurora. */
export const AURORA_REPLICATION_GROUP = 'rds_replication';

/**
 * `green-login`: pgshift's configured login works on green. A missing role is created
 * (like blue's role of that name when blue has one) with the configured password; a
 * role that exists but does not accept that password is a final error: pgshift never
 * changes someone's password.
 *
 * Detail: `{ role, creating }` noted before CREATE ROLE; `{ role, creating, created,
 * attributesFrom: 'blue' | 'defaults', memberOf }` when done. `created` false: adopted.
 */
export function greenLoginStep(env: PreparationEnv): PreparationStep {
  const role = env.pgshiftLogin.user;
  const log = env.log.child({ step: 'green-login' });
  return {
    name: 'green-login',
    async run(ctx) {
      const ours = ctx.detail.creating === true && ctx.detail.role === role;
      if (await roleExists(env, role)) {
        await checkLogin(env);
        return { role, creating: ours, created: ours };
      }
      const like = await blueRole(env, role);
      let groups = like ? like.memberOf : [...PGSHIFT_LOGIN_GROUPS];
      let attributes = like ? [...roleAttributes(like.role).filter((a) => a !== 'NOLOGIN' && a !== 'LOGIN'), 'LOGIN'] : [...PGSHIFT_LOGIN_ATTRIBUTES];
      if (!(await adminIsSuperuser(env))) {
        // Aurora's master user (rds_superuser) may not grant REPLICATION or BYPASSRLS;
        // replication there is the rds_replication group (granted when green has it).
        attributes = attributes.filter((a) => !/^(NO)?(REPLICATION|BYPASSRLS)$/.test(a));
        groups = union(groups, [AURORA_REPLICATION_GROUP]);
      }
      await ctx.note({ role, creating: true });
      const memberOf = await asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `create pgshift's role ${role} on green`, async (c) => {
        // The statement carries the password: it is never logged, and pg's errors do not repeat it.
        await c.query(`CREATE ROLE ${ident(role)} WITH ${attributes.join(' ')} PASSWORD ${literal(env.pgshiftLogin.password)}`);
        const present = new Set(
          (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [groups])).rows.map((r) => r.rolname),
        );
        for (const group of groups.filter((g) => present.has(g))) await c.query(`GRANT ${ident(group)} TO ${ident(role)}`);
        return groups.filter((g) => present.has(g));
      });
      await checkLogin(env);
      log.info({ role, attributesFrom: like ? 'blue' : 'defaults', memberOf }, "pgshift's role created on green");
      return { role, creating: true, created: true, attributesFrom: like ? 'blue' : 'defaults', memberOf };
    },
    async undo(detail) {
      if (detail.creating !== true && detail.created !== true) return;
      const name = typeof detail.role === 'string' ? detail.role : role;
      await dropRoles(env, [name]);
      log.info({ role: name }, "pgshift's role dropped from green");
    },
  };
}

/**
 * `roles`: every role of blue that green lacks (roles are global, so no dump carries
 * them), with its password hash when blue lets the admin read it.
 *
 * Detail: `{ planned }` noted before creating; `{ planned, created,
 * rolesWithoutPassword }` when done. Undo drops `planned` and `created`: each was
 * missing on green when planned.
 */
export function rolesStep(env: PreparationEnv): PreparationStep {
  const log = env.log.child({ step: 'roles' });
  return {
    name: 'roles',
    async run(ctx) {
      const missing = await asAdmin(env, 'blue', D.MAINTENANCE_DATABASE, 'list roles to copy', () =>
        rolesToCopy(adminOn(env, 'blue'), adminOn(env, 'green')),
      );
      let planned = union(listIn(ctx.detail, 'planned'), missing);
      if (missing.length > 0) await ctx.note({ planned });
      const copied = await asAdmin(env, 'green', D.MAINTENANCE_DATABASE, 'copy roles from blue to green', () =>
        copyRoles(adminOn(env, 'blue'), adminOn(env, 'green')),
      );
      planned = union(planned, copied.created);
      if (copied.created.length > 0) log.info({ roles: copied.created, withoutPassword: copied.withoutPassword }, 'roles copied to green');
      const detail: StepDetail = {
        planned,
        created: union(listIn(ctx.detail, 'created'), copied.created),
        rolesWithoutPassword: union(listIn(ctx.detail, 'rolesWithoutPassword'), copied.withoutPassword),
      };
      return detail;
    },
    async undo(detail) {
      const roles = union(listIn(detail, 'planned'), listIn(detail, 'created'));
      if (roles.length === 0) return;
      await dropRoles(env, roles);
      log.info({ roles }, 'copied roles dropped from green');
    },
  };
}

/**
 * Drops roles this preparation created on green. What they still own or were granted
 * in the pair's databases (a privilege the schema restore granted on a pre-existing
 * schema) goes first: those roles did not exist before, so all of it is ours.
 */
async function dropRoles(env: PreparationEnv, roles: string[]): Promise<void> {
  const present = await asAdmin(env, 'green', D.MAINTENANCE_DATABASE, 'list roles to drop on green', async (c) =>
    (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [roles])).rows.map((r) => r.rolname),
  );
  if (present.length === 0) return;
  const names = present.map(ident).join(', ');
  for (const database of await existingDatabases(env, 'green', [...env.databases])) {
    await asAdmin(env, 'green', database, `drop what roles ${present.join(', ')} own in ${database} on green`, (c) => c.query(`DROP OWNED BY ${names}`));
  }
  await asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `drop roles ${present.join(', ')} on green`, async (c) => {
    for (const name of present) await c.query(`DROP ROLE IF EXISTS ${ident(name)}`);
  });
}

async function adminIsSuperuser(env: PreparationEnv): Promise<boolean> {
  return asAdmin(env, 'green', D.MAINTENANCE_DATABASE, "read green's admin attributes", async (c) =>
    (await c.query<{ s: string }>(`SELECT current_setting('is_superuser') AS s`)).rows[0]?.s === 'on',
  );
}

async function roleExists(env: PreparationEnv, role: string): Promise<boolean> {
  return asAdmin(env, 'green', D.MAINTENANCE_DATABASE, `look for role ${role} on green`, async (c) =>
    ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0,
  );
}

/** Blue's role of that name and the groups it belongs to, or null. */
async function blueRole(env: PreparationEnv, role: string): Promise<{ role: RoleRow; memberOf: string[] } | null> {
  return asAdmin(env, 'blue', D.MAINTENANCE_DATABASE, `read role ${role} on blue`, async (c) => {
    const { rows } = await c.query<RoleRow>(
      `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
              rolconnlimit, rolvaliduntil, NULL::text AS rolpassword
         FROM pg_roles WHERE rolname = $1`,
      [role],
    );
    if (!rows[0]) return null;
    const groups = await c.query<{ rolname: string }>(
      `SELECT r.rolname FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
        WHERE m.rolname = $1 ORDER BY 1`,
      [role],
    );
    return { role: rows[0], memberOf: groups.rows.map((g) => g.rolname) };
  });
}

/** Logs in to green as pgshift's configured login. Refused credentials are final; an unreachable green is not. */
async function checkLogin(env: PreparationEnv): Promise<void> {
  const target = { ...adminOn(env, 'green'), login: env.pgshiftLogin };
  try {
    await withClient(target, (c) => c.query('SELECT 1'));
  } catch (err) {
    const cause = isPgshiftError(err) ? (err.cause as { code?: unknown; message?: string } | undefined) : undefined;
    const sqlstate = cause?.code;
    if (typeof sqlstate === 'string' && sqlstate.startsWith('28')) {
      throw finalError(
        'PGSHIFT_ERR_GREEN_LOGIN',
        `role ${env.pgshiftLogin.user} exists on green but pgshift cannot log in as it with the configured password (pgshift does not change an existing role's password; fix the role or the configured password): ${cause?.message ?? ''}`,
        { role: env.pgshiftLogin.user, sqlstate },
        err,
      );
    }
    throw err;
  }
}
