import type { CheckDefinition, FindingDraft } from '../check.js';

/** The pair is the one the operator meant: each side runs the configured major, and green is not older. */
export const serverVersionsCheck: CheckDefinition = {
  id: 'server-versions',
  title: 'each side runs the expected major version',
  scope: 'cluster',
  sides: ['blue', 'green'],
  async run(ctx) {
    const findings: FindingDraft[] = [];
    for (const side of ['blue', 'green'] as const) {
      const expected = ctx.pair.expectedMajor?.[side];
      const actual = ctx[side].major;
      if (expected !== undefined && expected !== actual) {
        findings.push({
          severity: 'blocker',
          database: null,
          object: `server ${side}`,
          message: `${side} runs PostgreSQL ${ctx[side].version}, but the pair expects major ${expected}: is this the right cluster?`,
          remediation: `Point the pair's ${side} at the intended cluster, or set ${side}.expectedMajor to ${actual}.`,
        });
      }
    }
    if (ctx.green.major < ctx.blue.major) {
      findings.push({
        severity: 'blocker',
        database: null,
        object: 'server green',
        message: `green runs PostgreSQL ${ctx.green.version}, older than blue's ${ctx.blue.version}: pgshift upgrades, it does not downgrade`,
        remediation: 'Swap blue and green in the pair, or give green a newer major version.',
      });
    }
    return findings;
  },
};
