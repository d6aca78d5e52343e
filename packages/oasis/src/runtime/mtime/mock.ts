// A virtual monotonic clock that only moves when told (by the mock sleep, or a test).
let now = 0;

export function nowMs(): number {
  return now;
}

export function elapsedNs(): bigint {
  return BigInt(Math.round(now * 1e6));
}

export function periodNs(): bigint | null {
  return 1n;
}

export function advanceTo(ms: number): void {
  if (ms > now) now = ms;
}

export function advance(ms: number): void {
  now += Math.max(0, ms);
}

export const implementation = "mock";
