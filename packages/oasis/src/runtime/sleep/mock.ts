// Virtual time: a sleep completes as soon as nothing else is runnable, advancing the mock clock.
import { advanceTo, nowMs } from "../mtime/mock.ts";

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

const pending: Pending[] = [];
let seq = 0;
let scheduled = false;

function pump(): void {
  scheduled = false;
  const live = pending.filter((p) => !p.cancelled);
  pending.length = 0;
  pending.push(...live);
  if (pending.length === 0) return;
  pending.sort((a, b) => a.at - b.at || a.seq - b.seq);
  const next = pending.shift()!;
  advanceTo(next.at);
  next.fn();
  schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  // setImmediate runs after pending I/O callbacks and microtasks: "nothing else is runnable".
  setImmediate(pump);
}

export function setTimer(ms: number, fn: () => void): () => void {
  const p: Pending = { at: nowMs() + Math.max(0, ms), seq: seq++, fn, cancelled: false };
  pending.push(p);
  schedule();
  return () => {
    p.cancelled = true;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimer(ms, resolve));
}

export function sleepNs(ns: bigint): Promise<void> {
  return sleep(Number(ns / 1_000_000n));
}

export const implementation = "mock";
