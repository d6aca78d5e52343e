import type { Stack } from "oasis";
import { PROTO_ICMPV6 } from "oasis/net";
import { source } from "oasis/logs";

const log = source("ping6", "Answers ping6 and logs each request");

const ECHO_REQUEST = 128;

export async function start({ stack }: { stack: Stack }): Promise<void> {
  // The stack itself sends the echo replies; this listener only observes what arrives.
  stack.ip.listen(PROTO_ICMPV6, (src, dst, message) => {
    if (message[0] !== ECHO_REQUEST || !src.includes(":")) return;
    const id = (message[4]! << 8) | message[5]!;
    const seq = (message[6]! << 8) | message[7]!;
    log.info(`echo request from ${src} to ${dst}: id ${id}, seq ${seq}, ${message.length - 8} bytes`);
  });
  const v6 = stack.ip.configuredAddresses().filter((p) => p.address.includes(":"));
  log.info(`answering ping6 on ${v6.map((p) => `${p.address}/${p.prefixLength}`).join(", ")}`);
  await stack.listen();
}
