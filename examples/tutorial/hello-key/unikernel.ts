import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";
import { sleep } from "oasis/sleep";

// Declared once, here, where it is read: `--hello=Bonjour` at boot, listed by `--help`.
const hello = runtimeArg.string({ name: "hello", default: "Hello World!", doc: "How to say hello." });

const log = source("hello", "The hello-key tutorial");

export async function start(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    log.info(hello());
    await sleep(1000);
  }
}
