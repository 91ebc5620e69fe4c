import t from 'tap';
import { isPgshiftError } from '../../src/errors.js';
import { checkDesiredWeights, checkWeights, describeSplitProblems, recordWeightsOf, splitOf } from '../../src/traffic/weights.js';

t.test('a split is valid at the boundaries and invalid one past them', async (t) => {
  for (const [blue, green] of [
    [100, 0],
    [0, 100],
    [99, 1],
    [1, 99],
    [50, 50],
  ]) {
    t.same(describeSplitProblems({ blue, green }, 'reader'), [], `${blue}/${green} is valid`);
  }
  const invalid: [unknown, RegExp][] = [
    [{ blue: 0, green: 0 }, /split evenly/],
    [{ blue: 101, green: -1 }, /between 0 and 100/],
    [{ blue: -1, green: 101 }, /between 0 and 100/],
    [{ blue: 50, green: 49 }, /must be 100, got 50 \+ 49 = 99/],
    [{ blue: 50, green: 51 }, /must be 100, got 50 \+ 51 = 101/],
    [{ blue: 50.5, green: 49.5 }, /integer percent/],
    [{ blue: Number.NaN, green: 100 }, /integer percent/],
    [{ blue: '90', green: 10 }, /integer percent/],
    [{ blue: 90 }, /green: must be an integer percent, got undefined/],
    [{ blue: 90, green: 10, red: 0 }, /unknown side/],
    [null, /must be an object/],
  ];
  for (const [split, expected] of invalid) {
    const problems = describeSplitProblems(split, 'reader');
    t.match(problems.join('\n'), expected, `${JSON.stringify(split)} is refused`);
    t.ok(problems.every((p) => p.startsWith('reader')), 'each problem names the record');
  }
});

t.test('desired weights: one or both names, every problem listed, coded 400', async (t) => {
  t.same(checkDesiredWeights({ reader: { blue: 90, green: 10 } }), ['reader']);
  t.same(checkDesiredWeights({ writer: { blue: 0, green: 100 }, reader: { blue: 0, green: 100 } }), ['reader', 'writer']);

  const err = t.throws(() => checkDesiredWeights({ reader: { blue: 0, green: 0 }, writer: { blue: 70, green: 20 } })) as unknown;
  t.ok(isPgshiftError(err, 'PGSHIFT_ERR_INVALID_WEIGHTS'));
  if (isPgshiftError(err)) {
    t.equal(err.status, 400);
    t.equal((err.details as { problems: string[] }).problems.length, 2, 'both names reported');
  }
  t.throws(() => checkDesiredWeights({}), { code: 'PGSHIFT_ERR_INVALID_WEIGHTS', message: /give reader, writer or both/ });
  t.throws(() => checkDesiredWeights({ primary: { blue: 100, green: 0 } } as never), { message: /primary: unknown name/ });
  t.throws(() => checkWeights({ reader: { blue: 100, green: 0 } } as never), { message: /writer: is required/ });
  t.doesNotThrow(() => checkWeights({ reader: { blue: 100, green: 0 }, writer: { blue: 100, green: 0 } }));
});

t.test('percent maps to Route 53 weight one to one, and weights map back to the share of answers', async (t) => {
  t.same(recordWeightsOf({ blue: 90, green: 10 }), { blue: 90, green: 10 });
  t.same(recordWeightsOf({ blue: 0, green: 100 }), { blue: 0, green: 100 });
  t.same(splitOf({ blue: 90, green: 10 }), { blue: 90, green: 10 });
  t.same(splitOf({ blue: 0, green: 0 }), { blue: 50, green: 50 }, 'all zero: Route 53 splits evenly');
  t.same(splitOf({ blue: 255, green: 0 }), { blue: 100, green: 0 });
  t.same(splitOf({ blue: 1, green: 1 }), { blue: 50, green: 50 });
  t.same(splitOf({ blue: 1, green: 2 }), { blue: 33, green: 67 }, 'rounded, still sums to 100');
  t.same(splitOf({ blue: 254, green: 1 }), { blue: 100, green: 0 }, 'under half a percent rounds away');
});
