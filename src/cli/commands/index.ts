import type { CliCommand } from '../command.js';
import { eventsCommand } from './events.js';
import { finalizeCommand } from './finalize.js';
import { advanceCommand, pauseCommand, resumeCommand, revertCommand } from './intents.js';
import { preflightCommand } from './preflight.js';
import { prepareCommand } from './prepare.js';
import { rehearseCommand } from './rehearse.js';
import { schemaCommand } from './schema.js';
import { statusCommand } from './status.js';

/** Every subcommand of `pgshift`, in the order `pgshift --help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  statusCommand,
  preflightCommand,
  prepareCommand,
  advanceCommand,
  revertCommand,
  pauseCommand,
  resumeCommand,
  finalizeCommand,
  schemaCommand,
  rehearseCommand,
  eventsCommand,
];
