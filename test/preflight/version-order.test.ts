import t from 'tap';
import { crossesInto14, listNames } from '../../src/preflight/check.js';
import { compareVersions } from '../../src/preflight/sql-text.js';

t.test('extension versions order by their numeric parts', async (t) => {
  t.ok(compareVersions('1.10', '1.9') > 0, '1.10 is newer than 1.9');
  t.ok(compareVersions('1.4', '1.3') > 0);
  t.ok(compareVersions('1.3', '1.4') < 0);
  t.equal(compareVersions('2.3.15', '2.3.15'), 0);
  t.ok(compareVersions('3.1.4', '3.1') > 0, 'a longer version with the same prefix is newer');
  t.ok(compareVersions('1.0.0-beta', '1.0.0') > 0, 'a suffix compares after the release it extends');
  t.ok(compareVersions('4.6.0', '4.5.1') > 0);
  t.ok(compareVersions('3.1.4next', '3.1.4') > 0, "PostGIS's next variant after the release");
  t.ok(compareVersions('ANY', '2.0') < 0, "PostGIS's ANY before every numbered version");
});

t.test('the 13 -> 14 checks apply when blue is 13 or older and green 14 or newer', async (t) => {
  t.equal(crossesInto14({ blueMajor: 13, greenMajor: 14 }), true);
  t.equal(crossesInto14({ blueMajor: 12, greenMajor: 15 }), true);
  t.equal(crossesInto14({ blueMajor: 13, greenMajor: 13 }), false);
  t.equal(crossesInto14({ blueMajor: 14, greenMajor: 15 }), false);
  t.equal(crossesInto14({ blueMajor: 15, greenMajor: 16 }), false);
});

t.test('lists name at most the given number of objects', async (t) => {
  t.equal(listNames(['a', 'b'], 2), 'a, b');
  t.equal(listNames(['a', 'b', 'c'], 2), 'a, b and 1 more');
  t.equal(listNames([], 2), '');
});
