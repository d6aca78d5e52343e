import type { Stack } from "oasis";
import { PROTO_ICMP } from "oasis/net";
import { source } from "oasis/logs";

const log = source("ping", "Answers ping and logs each request");

const ECHO_REQUEST = 8;

export async function start({ stack }: { stack: Stack }): Promise<void> {
  // The stack itself sends the echo replies; this listener only observes what arrives.
  stack.ip.listen(PROTO_ICMP, (src, _dst, message) => {
    if (message[0] !== ECHO_REQUEST) return;
    const id = (message[4]! << 8) | message[5]!;
    const seq = (message[6]! << 8) | message[7]!;
    log.info(`echo request from ${src}: id ${id}, seq ${seq}, ${message.length - 8} bytes`);
  });
  const addresses = stack.ip.configuredAddresses().map((p) => `${p.address}/${p.prefixLength}`);
  log.info(`answering ping on ${addresses.join(", ")}`);
  await stack.listen();
}
