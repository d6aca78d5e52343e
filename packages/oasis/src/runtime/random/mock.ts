// Deterministic randomness for reproducible tests: xoshiro128** seeded from OASIS_SEED (default 1).
// Not cryptographically secure — the mock target exists for tests only.
import { uniformInt } from "./uniform.ts";
const seed = Number((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.OASIS_SEED ?? 1) >>> 0;
const s = new Uint32Array([seed ^ 0x9e3779b9, seed * 0x85ebca6b, seed ^ 0xc2b2ae35, 0x27d4eb2f]);

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function randomUint32(): number {
  const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
  const t = s[1]! << 9;
  s[2]! ^= s[0]!;
  s[3]! ^= s[1]!;
  s[1]! ^= s[2]!;
  s[0]! ^= s[3]!;
  s[2]! ^= t;
  s[3] = rotl(s[3]!, 11);
  return result;
}

export function fillRandom(buf: Uint8Array): Uint8Array {
  for (let i = 0; i < buf.length; i++) buf[i] = randomUint32() & 0xff;
  return buf;
}

export function randomBytes(n: number): Uint8Array {
  return fillRandom(new Uint8Array(n));
}

/** Uniform integer in [0, max) without modulo bias; max ≤ 2^32. */
export function randomInt(max: number): number {
  return uniformInt(randomUint32, max);
}

export const implementation = "mock";
