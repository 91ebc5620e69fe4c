/**
 * Small text helpers for the SQL that findings propose. Names in findings come from
 * the server already quoted (`quote_ident`, `::regclass`), so these only join and order.
 */

/** A remediation to run on green rather than on blue, marked so that a paste into the wrong session is noticed. */
export function onGreen(sql: string): string {
  return `-- on green\n${sql}`;
}

/** Quotes an SQL string literal. */
export function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Orders extension versions the way people read them: part by part, numbers as numbers
 * (1.10 after 1.9), a part's text after its number (4next after 4), and parts with no
 * number (PostGIS's `ANY`) before any numbered one. Negative when a < b.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.\-_]/);
  const pb = b.split(/[.\-_]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const diff = comparePart(x, y);
    if (diff !== 0) return diff;
  }
  return 0;
}

function comparePart(x: string, y: string): number {
  const mx = /^(\d*)(.*)$/.exec(x)!;
  const my = /^(\d*)(.*)$/.exec(y)!;
  if (mx[1] === '' || my[1] === '') {
    if (mx[1] !== my[1]) return mx[1] === '' ? -1 : 1;
    return x.localeCompare(y);
  }
  return Number(mx[1]) - Number(my[1]) || mx[2]!.localeCompare(my[2]!);
}
