import type { CheckDefinition, FindingDraft } from '../check.js';

/**
 * The DDL fence (`ddl: block`) is an event trigger, which only a superuser may create
 * (on Aurora, a member of rds_superuser, as the master user is). A side whose admin
 * login may not cannot be fenced: a blocker when the pair asks for the fence, a
 * warning otherwise (switching to block would not work).
 */
export const ddlFenceCheck: CheckDefinition = {
  id: 'ddl-fence',
  title: 'the admin login may create event triggers (the DDL fence)',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const findings: FindingDraft[] = [];
    for (const side of ['blue', 'green'] as const) {
      const admin = ctx[side].adminUser;
      const [row] = await ctx.query<{ may: boolean }>(
        side,
        `SELECT r.rolsuper OR EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                                       WHERE m.member = r.oid AND g.rolname = 'rds_superuser') AS may
           FROM pg_roles r WHERE r.rolname = $1`,
        [admin],
      );
      if (row?.may) continue;
      const blocking = ctx.pair.ddl === 'block';
      findings.push({
        severity: blocking ? 'blocker' : 'warning',
        database: null,
        object: `role ${admin}`,
        message: `${side}'s admin login ${admin} may not create event triggers (neither superuser nor rds_superuser): ${blocking ? 'the pair asks for ddl: block, and pgshift cannot fence DDL there' : 'ddl: block would not work for this pair'}`,
        remediation: `Use the cluster's master user (rds_superuser on Aurora, a superuser elsewhere) as ${side}.adminLogin${blocking ? ', or set ddl: watch for the pair' : ''}.`,
      });
    }
    return findings;
  },
};
