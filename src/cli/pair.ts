import { ApiError } from './api-client.js';
import type { CommandContext } from './command.js';
import { CliError, EXIT } from './errors.js';

/** --pair, $PGSHIFT_PAIR, or the only pair the service manages. */
export async function choosePair(ctx: CommandContext): Promise<string> {
  const given = ctx.options.pair ?? ctx.env.PGSHIFT_PAIR;
  if (typeof given === 'string' && given !== '') return given;
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
