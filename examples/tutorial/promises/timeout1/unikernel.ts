import { source } from "oasis/logs";
import { setTimer, sleep } from "oasis/sleep";
import { randomInt } from "oasis/random";

const log = source("timeout1");

// A task that takes a random time (0–2 s) and can be cancelled.
function slowTask(signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const ms = randomInt(2000);
    const cancel = setTimer(ms, () => resolve(`took ${ms} ms`));
    signal.addEventListener("abort", () => {
      cancel();
      reject(signal.reason);
    });
  });
}

// Timeout by inspection: after 1 s, look at whether the task finished; if not, cancel it.
export async function start(): Promise<void> {
  const abort = new AbortController();
  let result: string | undefined;
  const task = slowTask(abort.signal).then((r) => (result = r));
  await sleep(1000);
  if (result === undefined) {
    abort.abort(new Error("timeout"));
    await task.catch(() => undefined);
    log.info("Cancelled");
  } else {
    log.info(`Returned: ${result}`);
  }
}
