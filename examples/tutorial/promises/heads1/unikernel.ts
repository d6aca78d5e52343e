import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";

const log = source("heads1");

// Two tasks run concurrently; the unikernel goes on once both are done (Lwt.join in Mirage).
export async function start(): Promise<void> {
  await Promise.all([
    (async () => {
      await sleep(1000);
      log.info("Heads");
    })(),
    (async () => {
      await sleep(2000);
      log.info("Tails");
    })(),
  ]);
  log.info("Finished");
}
