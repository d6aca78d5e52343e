// Sleep on the Node host: libuv timers.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function sleepNs(ns: bigint): Promise<void> {
  return sleep(Number(ns / 1_000_000n));
}

/** Runs `fn` after `ms`; the returned function cancels it. For protocol timers. */
export function setTimer(ms: number, fn: () => void): () => void {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

export const implementation = "unix";
