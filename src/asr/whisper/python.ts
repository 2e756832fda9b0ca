/** Python semantics that openai/whisper's arithmetic relies on, where JavaScript's differ. */

/** Python's round(): halves go to the even neighbour (round(2.5) == 2). */
export function pyRound(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Python's `items[-n:]` for any integer n (n = 0 keeps everything). */
export function lastItems<T>(items: readonly T[], n: number): T[] {
  return n === 0 ? [...items] : items.slice(-n);
}
