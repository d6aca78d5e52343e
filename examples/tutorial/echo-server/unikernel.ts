import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";
import { randomInt } from "oasis/random";

const count = runtimeArg.int({ name: "count", default: 10, min: 0, doc: "How many lines to echo before stopping." });

const log = source("echo-server");

// A stand-in for a slow input: each line arrives after a random delay and has a random length.
async function readLine(): Promise<string> {
  await sleep(randomInt(500));
  return "a".repeat(1 + randomInt(20));
}

// Reads lines one at a time and echoes them, as Mirage's lwt echo_server does with a stream.
export async function start(): Promise<void> {
  for (let i = 0; i < count(); i++) {
    const line = await readLine();
    log.info(`echo ${i + 1}: ${line}`);
  }
}
