import { join } from 'node:path';
import * as D from '../defaults.js';
import type { Lab } from './lab.js';

/**
 * What a newcomer needs after `npm start`, on stderr (stdout carries JSON logs):
 * where the service is, a token to call it, and how to reach blue and green (`more`:
 * lines of lab-only parts such as the demo application). Database passwords stay in the
 * lab's pgpass file, not on the screen.
 */
export async function labBanner(lab: Lab, serviceUrl: string, more: string[] = []): Promise<string> {
  const versions = await lab.versions();
  const pgpass = join(lab.dir, 'pgpass');
  const url = (side: 'blue' | 'green') =>
    `postgresql://${D.LAB_APP_ROLE}@127.0.0.1:${lab.servers[side].port}/${D.LAB_DATABASE}`;
  const lines = [
    '',
    'pgshift is running on the embedded lab',
    `  service          ${serviceUrl}`,
    `  dashboard        ${serviceUrl}/  (sign in with a token below)`,
    `  operator token   ${lab.state.secrets.operatorToken}`,
    `  viewer token     ${lab.state.secrets.viewerToken}`,
    `  blue  (PostgreSQL ${versions.blue})  ${url('blue')}`,
    `  green (PostgreSQL ${versions.green})  ${url('green')}`,
    `  passwords        export PGPASSFILE=${pgpass}`,
    ...(lab.rds ? [`  RDS stand-in     ${lab.rds.url}  (aws rds describe-db-clusters --endpoint-url ${lab.rds.url})`] : []),
    ...(lab.route53
      ? [
          `  Route 53         ${lab.route53.standIn.url}  (stand-in; hosted zone ${lab.route53.zoneId}: aws route53 list-resource-record-sets --endpoint-url ${lab.route53.standIn.url} --hosted-zone-id ${lab.route53.zoneId})`,
        ]
      : []),
    ...more,
    `  lab folder       ${lab.dir}`,
    '',
    `  try: curl -H "Authorization: Bearer ${lab.state.secrets.operatorToken}" ${serviceUrl}/api/v1/pairs`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}
