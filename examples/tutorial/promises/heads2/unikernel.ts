import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";

const log = source("heads2");

// The same as heads1, written with promise chaining instead of async functions.
export function start(): Promise<void> {
  const heads = sleep(1000).then(() => log.info("Heads"));
  const tails = sleep(2000).then(() => log.info("Tails"));
  return Promise.all([heads, tails]).then(() => log.info("Finished"));
}
