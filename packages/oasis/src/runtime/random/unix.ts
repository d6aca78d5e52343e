// Entropy on the Node host: the kernel CSPRNG through node:crypto.
import { uniformInt } from "./uniform.ts";
import { randomFillSync } from "node:crypto";

/** Fills `buf` with cryptographically secure random bytes and returns it. */
export function fillRandom(buf: Uint8Array): Uint8Array {
  return randomFillSync(buf);
}

export function randomBytes(n: number): Uint8Array {
  return fillRandom(new Uint8Array(n));
}

// Small reads are served from a pool: one syscall per 4 KiB instead of one per call.
const pool = new Uint32Array(1024);
let poolIndex = pool.length;

export function randomUint32(): number {
  if (poolIndex >= pool.length) {
    randomFillSync(pool);
    poolIndex = 0;
  }
  return pool[poolIndex++]!;
}

/** Uniform integer in [0, max) without modulo bias; max ≤ 2^32. */
export function randomInt(max: number): number {
  return uniformInt(randomUint32, max);
}

export const implementation = "unix";
