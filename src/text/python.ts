/**
 * Python semantics that openai/whisper's arithmetic and writers rely on, where JavaScript's differ. One home
 * for every such helper, so that the transcription loops and the writers round and print alike.
 */

/**
 * Python 3's `round(x)` and `round(x, digits)` on the exact binary value of `x`, ties to even (Math.round sends
 * ties up; toFixed sends ties away from zero).
 *
 * - Without `digits`, the nearest integer (round(2.5) == 2, round(-0.5) == 0, never -0, as Python's int).
 * - With `digits` (0 to 100), the double nearest the decimal with that many places closest to x's exact value:
 *   round(2.675, 2) == 2.67 because the double 2.675 lies below the tie; round(0.125, 2) == 0.12 is a true tie.
 *   Integers, infinities, NaN and zeros come back unchanged (round(-0.0, 2) == -0.0).
 */
export function pyRound(x: number, digits?: number): number {
  return digits === undefined ? roundToInteger(x) : roundToDigits(x, digits);
}

function roundToInteger(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor; // exact: x and floor(x) are within a factor of two, or diff is x itself
  const r = diff > 0.5 ? floor + 1 : diff < 0.5 ? floor : floor % 2 === 0 ? floor : floor + 1;
  return r === 0 ? 0 : r; // Python's int has no negative zero
}

function roundToDigits(x: number, digits: number): number {
  if (!(Number.isInteger(digits) && digits >= 0 && digits <= 100)) throw new RangeError(`pyRound: digits must be a whole number from 0 to 100, got ${digits}`);
  // Integers (every double from 2^52 on, where toFixed would switch to exponent form) are already round.
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  const sign = x < 0 ? -1 : 1;
  // toFixed(100) is the exact value of any double above 2^-100, and shows a tie exactly for the digits asked.
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
