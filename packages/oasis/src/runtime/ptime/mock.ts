// Wall clock for deterministic runs: a fixed epoch plus the virtual monotonic clock.
import { nowMs as monotonic } from "../mtime/mock.ts";

let epoch = Date.UTC(2000, 0, 1);

export function nowMs(): number {
  return epoch + monotonic();
}

export function now(): Date {
  return new Date(nowMs());
}

export function currentTzOffsetS(): number | null {
  return 0;
}

export function periodMs(): number | null {
  return null;
}

export function setEpoch(ms: number): void {
  epoch = ms;
}

export const implementation = "mock";
