import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";
import { now, currentTzOffsetS } from "oasis/ptime";
import { elapsedNs } from "oasis/mtime";

const ticks = runtimeArg.int({ name: "ticks", default: 3, min: 1, doc: "How many times to speak." });

const log = source("clock");

function offset(seconds: number | null): string {
  if (seconds === null) return "unknown";
  const sign = seconds < 0 ? "-" : "+";
  const a = Math.abs(seconds);
  return `${sign}${String(Math.floor(a / 3600)).padStart(2, "0")}:${String(Math.floor((a % 3600) / 60)).padStart(2, "0")}`;
}

// The wall clock (oasis/ptime) says what time it is; the monotonic clock (oasis/mtime) measures.
export async function start(): Promise<void> {
  const boot = elapsedNs();
  for (let i = 0; i < ticks(); i++) {
    const elapsedMs = Number(elapsedNs() - boot) / 1e6;
    log.info(`The time is ${now().toISOString()} (UTC offset ${offset(currentTzOffsetS())}); ${elapsedMs.toFixed(1)} ms since start`);
    await sleep(1000);
  }
}
