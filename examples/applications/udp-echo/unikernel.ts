import type { Stack } from "oasis";
import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";

const log = source("udp-echo", "UDP echo server");

const port = runtimeArg.int({ name: "port", doc: "UDP port to echo on", docv: "PORT", default: 7, min: 0, max: 65535 });

export async function start({ stack }: { stack: Stack }): Promise<void> {
  const p = port();
  let failures = 0;
  stack.udp.listen(p, (d) => {
    log.debug(() => `${d.data.length} bytes from ${d.src}:${d.srcPort}`);
    // `d.data` is only valid during this call; the direct stack copies it synchronously, a socket
    // stack may not, so hand over a copy.
    stack.udp.write(d.src, d.srcPort, d.data.slice(), { srcPort: p }).catch((e: unknown) => {
      if (failures++ < 10) log.warn(`could not answer ${d.src}:${d.srcPort}: ${e instanceof Error ? e.message : String(e)}`);
    });
  });
  log.info(`echoing UDP on port ${p}`);
  await stack.listen();
}
