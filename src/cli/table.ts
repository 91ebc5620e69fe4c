export interface TableRow {
  cells: readonly string[];
  /** Lines printed under the last column as they are, never wrapped (SQL to copy). */
  verbatim?: readonly string[];
}

/**
 * A plain-text table for terminals: every column as wide as its widest cell, except
 * the last, which wraps at word boundaries to fit `width`. Lines of the last cell after
 * the first, and a row's verbatim lines, start under that column.
 */
export function renderTable(headers: readonly string[], rows: readonly TableRow[], width = 120): string {
  const fixed = headers.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] ?? '').length)));
  const indent = fixed.reduce((sum, w) => sum + w + 2, 0);
  const lastWidth = Math.max(30, width - indent);
  const lines: string[] = [];
  const pad = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(fixed[i]!)).join('  ');
  lines.push(`${pad(headers.slice(0, -1))}  ${headers[headers.length - 1]}`.trimEnd());
  for (const row of rows) {
    const wrapped = (row.cells[row.cells.length - 1] ?? '').split('\n').flatMap((line) => wrap(line, lastWidth));
    lines.push(`${pad(row.cells.slice(0, -1))}  ${wrapped[0] ?? ''}`.trimEnd());
    for (const more of [...wrapped.slice(1), ...(row.verbatim ?? [])]) lines.push(`${' '.repeat(indent)}${more}`.trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/** Splits `text` into lines of at most `width` characters at spaces; longer words stay whole. */
export function wrap(text: string, width: number): string[] {
  const words = text.split(/ +/).filter((w) => w !== '');
  if (words.length === 0) return [''];
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
