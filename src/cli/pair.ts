import Value from 'typebox/value';
import { PairIdSchema } from '../config/schema.js';
import { ApiError } from './api-client.js';
import type { CommandContext } from './command.js';
import { CliError, EXIT } from './errors.js';

/** --pair, $PGSHIFT_PAIR, or the only pair the service manages. */
export async function choosePair(ctx: CommandContext): Promise<string> {
  const given = ctx.options.pair ?? ctx.env.PGSHIFT_PAIR;
  if (typeof given === 'string' && given !== '') {
    // Checked here, so that a mistyped id is a usage error naming the option, not the service's 400.
    if (!Value.Check(PairIdSchema, given)) {
      const source = ctx.options.pair === undefined ? '$PGSHIFT_PAIR' : '--pair';
      throw new CliError(`${source}: "${given}" is not a pair id (lowercase letters, digits and -, at most 63)`, EXIT.usage);
    }
    return given;
  }
  let pairs: { id: string }[];
  try {
    pairs = (await ctx.api.pairs()).pairs;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new CliError('--pair is required', EXIT.usage);
    throw err;
  }
  if (pairs.length === 1) return pairs[0]!.id;
  throw new CliError(`--pair is required: the service manages ${pairs.map((p) => p.id).join(', ') || 'no pair'}`, EXIT.usage);
}

export const PAIR_OPTION = { pair: { type: 'string' as const } };
export const PAIR_USAGE = '  --pair P  the pair (default: $PGSHIFT_PAIR, or the only pair the service manages)';
