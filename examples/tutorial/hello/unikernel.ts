import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";

const log = source("hello", "The hello tutorial");

export async function start(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    log.info("hello");
    await sleep(1000);
  }
}
