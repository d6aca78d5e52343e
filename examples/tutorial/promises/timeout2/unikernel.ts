import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";
import { randomInt } from "oasis/random";

const log = source("timeout2");

// Timeout by racing: whichever settles first wins (Lwt.pick in Mirage).
export async function start(): Promise<void> {
  const ms = randomInt(2000);
  const task = sleep(ms).then(() => `Returned after ${ms} ms`);
  const timeout = sleep(1000).then(() => "Cancelled");
  log.info(await Promise.race([task, timeout]));
}
