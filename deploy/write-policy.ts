#!/usr/bin/env node
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDeployParameters, ParameterError } from './parameters.js';
import { taskRolePolicy } from './policy.js';

/**
 * The task role's policy as plain JSON, for teams that deploy without CDK:
 * `npm run deploy:policy -- <parameters.json> [<out.json>]`. With no arguments it
 * rewrites deploy/iam-policy.json from deploy/parameters.example.json, the file
 * test/deploy holds equal to what the stack synthesizes.
 */
const here = dirname(fileURLToPath(import.meta.url));
const [input = join(here, 'parameters.example.json'), output = join(here, 'iam-policy.json')] = process.argv.slice(2);
try {
  writeFileSync(output, `${JSON.stringify(taskRolePolicy(loadDeployParameters(input)), null, 2)}\n`);
  console.log(`wrote ${output}`);
} catch (err) {
  if (!(err instanceof ParameterError)) throw err;
  console.error(err.message);
  process.exit(2);
}
