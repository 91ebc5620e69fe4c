import Type from 'typebox';

/**
 * The shared vocabulary of pgshift: the two sides of a pair, the share of a DNS name's
 * traffic each side gets, and the weights of a pair's two names. Every part speaks
 * these types; they are defined here once.
 */

export const SIDES = ['blue', 'green'] as const;
export type Side = (typeof SIDES)[number];
export const SideSchema = Type.Union([Type.Literal('blue'), Type.Literal('green')]);

/** The two names of a pair: reads go through `reader`, writes through `writer`. */
export const RECORD_KINDS = ['reader', 'writer'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

const Percent = Type.Integer({ minimum: 0, maximum: 100 });

/** Percent of one name's traffic per side; blue + green = 100, never both 0. */
export const SplitSchema = Type.Object({ blue: Percent, green: Percent }, { additionalProperties: false });
export type Split = Type.Static<typeof SplitSchema>;

export const WeightsSchema = Type.Object({ reader: SplitSchema, writer: SplitSchema }, { additionalProperties: false });
export type Weights = Type.Static<typeof WeightsSchema>;

export function sameSplit(a: Split, b: Split): boolean {
  return a.blue === b.blue && a.green === b.green;
}

export function sameWeights(a: Weights, b: Weights): boolean {
  return sameSplit(a.reader, b.reader) && sameSplit(a.writer, b.writer);
}

export function describeSplit(split: Split): string {
  return `blue ${split.blue} / green ${split.green}`;
}

export function describeWeights(w: Weights): string {
  return `reader ${describeSplit(w.reader)}, writer ${describeSplit(w.writer)}`;
}
