import type { Split } from '../../shift/model.js';

/** How the page writes numbers and times: short, with their unit. */

export function percent(n: number | null | undefined): string {
  return n === null || n === undefined ? '–' : `${n} %`;
}

/** Green's share of a record: wanted next to seen ("10 % / 10 %"). */
export function greenShare(wanted: Split | null | undefined, seen: Split | null | undefined): string {
  return `${percent(wanted?.green)} / ${seen ? percent(seen.green) : 'not seen'}`;
}

export function seconds(s: number | null | undefined): string {
  if (s === null || s === undefined) return '–';
  return s < 10 ? `${s.toFixed(1)} s` : `${Math.round(s)} s`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function duration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${s} s`;
  return `${s} s`;
}

export function clock(at: number | string | null | undefined): string {
  if (at === null || at === undefined) return '–';
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? '–' : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

/** A signal's value in its unit (the API's units: s, bytes, ms, ratio, problems). */
export function signalValue(value: number | null, unit: string): string {
  if (value === null) return 'no reading';
  switch (unit) {
    case 's':
      return seconds(value);
    case 'bytes':
      return bytes(value);
    case 'ms':
      return `${Math.round(value)} ms`;
    case 'ratio':
      return `${(value * 100).toFixed(1)} %`;
    default:
      return `${value} ${unit}`;
  }
}
