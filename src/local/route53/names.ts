/**
 * DNS names the way Route 53 compares and returns them: case-insensitive, always with a
 * trailing dot, characters other than a-z, 0-9, `-`, `_` written as `\ooo` octal escapes
 * (`*` comes back as `\052`), and sorted with the labels reversed.
 */

const PLAIN = /[a-z0-9_-]/;

/** `Www.Example.com` -> `www.example.com.`; `*.example.com` -> `\052.example.com.`. */
export function normaliseName(name: string): string {
  const decoded = name.trim().replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const labels = decoded.toLowerCase().split('.');
  if (labels.length > 1 && labels[labels.length - 1] === '') labels.pop();
  const escaped = labels.map((label) =>
    [...label].map((ch) => (PLAIN.test(ch) ? ch : `\\${ch.charCodeAt(0).toString(8).padStart(3, '0')}`)).join(''),
  );
  return `${escaped.join('.')}.`;
}

/** `www.example.com.` -> `com.example.www.`: the order ListResourceRecordSets uses. */
export function reversedName(name: string): string {
  const labels = name.slice(0, -1).split('.');
  return `${labels.reverse().join('.')}.`;
}

export function compareNames(a: string, b: string): number {
  const ra = reversedName(a);
  const rb = reversedName(b);
  return ra < rb ? -1 : ra > rb ? 1 : 0;
}

/** Both arguments normalised. */
export function isInZone(name: string, zoneName: string): boolean {
  return name === zoneName || name.endsWith(`.${zoneName}`);
}

/** Why a normalised name is not a valid DNS name, or null. */
export function describeInvalidName(name: string): string | null {
  if (name === '.') return 'the name is empty';
  const decodedLength = name.replace(/\\\d{3}/g, 'x').length;
  if (decodedLength > 255) return 'the name is longer than 255 characters';
  const labels = name.slice(0, -1).split('.');
  if (labels.some((l) => l === '')) return 'the name has an empty label';
  if (labels.some((l) => l.replace(/\\\d{3}/g, 'x').length > 63)) return 'a label is longer than 63 characters';
  return null;
}

/** A name for messages: normalised, with the trailing dot, as Route 53 quotes it. */
export function quoteRecord(name: string, type: string, setIdentifier?: string): string {
  const id = setIdentifier === undefined ? '' : `, set-identifier='${setIdentifier}'`;
  return `[name='${name}', type='${type}'${id}]`;
}
