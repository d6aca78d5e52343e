// Wall clock (POSIX time) on the Node host.

/** Milliseconds since the Unix epoch, UTC. */
export function nowMs(): number {
  return Date.now();
}

export function now(): Date {
  return new Date();
}

/** Offset of local time from UTC in seconds (east positive), or null when unknown. */
export function currentTzOffsetS(): number | null {
  return -new Date().getTimezoneOffset() * 60;
}

export function periodMs(): number | null {
  return null;
}

export const implementation = "unix";
