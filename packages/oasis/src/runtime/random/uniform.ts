/** Uniform integer in [0, max) from a source of uniform 32-bit words, without modulo bias; max ≤ 2^32. */
export function uniformInt(next: () => number, max: number): number {
  if (!(max > 0 && max <= 2 ** 32 && Number.isInteger(max))) throw new RangeError(`randomInt: max must be an integer in 1..2^32, got ${max}`);
  const limit = 2 ** 32 - (2 ** 32 % max);
  for (;;) {
    const x = next();
    if (x < limit) return x % max;
  }
}
