#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { resolve } from 'node:path';
import { loadDeployParameters, ParameterError } from './parameters.js';
import { PgshiftStack } from './stack.js';

/**
 * The CDK app: `npx aws-cdk@2 synth -c parameters=<file>` (from deploy/, where cdk.json
 * is). The parameter file is JSON, checked against deploy/parameters.ts before anything
 * is built; deploy/parameters.example.json shows every key. Nothing here looks anything
 * up in AWS, so synthesizing needs neither an account nor a network.
 */
const app = new App();
const file = app.node.tryGetContext('parameters') as string | undefined;
if (file === undefined) {
  console.error('the context key "parameters" is required: the parameter file, e.g. -c parameters=parameters.json');
  process.exit(2);
}
try {
  const params = loadDeployParameters(resolve(file));
  new PgshiftStack(app, params.stackName ?? 'Pgshift', params);
} catch (err) {
  if (!(err instanceof ParameterError)) throw err;
  console.error(err.message);
  process.exit(2);
}
app.synth();
