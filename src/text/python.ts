/**
 * Python's semantics where JavaScript's differ, in one place: openai/whisper's arithmetic, its text handling
 * and its JSON output rely on them, and fidelity to its outputs (to the last digit) depends on each.
 */

/**
 * Python's `round(x)` and `round(x, digits)`: the nearest integer (or decimal), exact ties to even. Python
 * rounds the exact binary value, so 2.675 (stored just below) rounds to 2.67, where `toFixed` sends ties up.
 */
export function pyRound(x: number, digits?: number): number {
  if (digits === undefined) {
    const floor = Math.floor(x);
    const diff = x - floor;
    if (diff > 0.5) return floor + 1;
    if (diff < 0.5) return floor;
    return floor % 2 === 0 ? floor : floor + 1;
  }
  if (!Number.isFinite(x)) return x;
  const sign = x < 0 || Object.is(x, -0) ? -1 : 1;
  const exact = Math.abs(x).toFixed(100);
  const point = exact.indexOf('.');
  const tail = exact.slice(point + 1 + digits);
  if (/^50*$/.test(tail)) {
    const kept = exact.slice(0, point + 1 + digits);
    const lastDigit = Number(kept[kept.length - 1] === '.' ? kept[kept.length - 2] : kept[kept.length - 1]);
    if (lastDigit % 2 === 0) return sign * Number(kept);
  }
  return sign * Number(Math.abs(x).toFixed(digits));
}

/** Python's `items[-n:]` for any integer n (n = 0 keeps everything). */
export function lastItems<T>(items: readonly T[], n: number): T[] {
  return n === 0 ? [...items] : items.slice(-n);
}

/** Python len(): code points, not UTF-16 units. */
export function pyLen(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Python str.strip() whitespace (str.isspace), which differs from String.prototype.trim on a few characters. */
export function pyStrip(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isPySpace(text.charCodeAt(start))) start++;
  while (end > start && isPySpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function isPySpace(c: number): boolean {
  return (
    (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c === 0x85 || c === 0xa0 || c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000
  );
}

/** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16 on. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText);
  const point = exponent + 1; // digits are 0.d1d2... x 10^point
  if (point <= -4 || point > 16) {
    const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${body}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}.0`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** An int field; a non-integer falls back to float repr rather than lying. */
export function pyInt(x: number): string {
  return Number.isInteger(x) ? String(x) : pyFloat(x);
}

/** Python json string with ensure_ascii: everything outside printable ASCII as \uXXXX (UTF-16 units). */
export function pyString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += text[i];
  }
  return out + '"';
}

