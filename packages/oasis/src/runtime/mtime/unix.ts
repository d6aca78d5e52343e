// Monotonic clock on the Node host.
import { performance } from "node:perf_hooks";

/** Nanoseconds since an unspecified point; never goes backwards. */
export function elapsedNs(): bigint {
  return process.hrtime.bigint();
}

/** Milliseconds (fractional) since an unspecified point: cheaper than elapsedNs for protocol timers. */
export function nowMs(): number {
  return performance.now();
}

/** Clock resolution in nanoseconds, when known. */
export function periodNs(): bigint | null {
  return null;
}

export const implementation = "unix";
