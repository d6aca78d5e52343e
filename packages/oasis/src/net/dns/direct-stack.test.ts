// The client on Oasis's own stack (Ethernet, ARP, IPv4, UDP, TCP over a TAP) in a network
// namespace, asking dnsmasq that runs on the kernel side of the TAP.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { netnsUnavailable, withNetns } from "../../../../../test/support/netns.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { createTcp } from "../tcp/index.ts";
import { DnsClient, DnsError } from "./client.ts";
import { dnsmasqUnavailable, startDnsmasq } from "./dnsmasq.ts";

const BIG = Array.from({ length: 120 }, (_, i) => `--host-record=big.test,198.51.100.${i + 1}`);

describe("DNS client on the direct stack", { skip: netnsUnavailable() ?? dnsmasqUnavailable() }, () => {
  it("resolves through dnsmasq on the kernel side, over UDP and (truncated answer) over Oasis's TCP", () =>
    withNetns(
      async (ns) => {
        const dnsmasq = await startDnsmasq(["--local-ttl=60", "--address=/example.test/192.0.2.7", "--host-record=host.test,192.0.2.8,2001:db8::8", "--address=/nx.test/", ...BIG], {
          netns: ns.name,
          address: ns.kernelIp,
          port: 53,
        });
        const s = ipv4Stack(ns.openTap(), { cidr: "192.0.2.2/24", tcp: (ip) => createTcp(ip) });
        try {
          const c = new DnsClient(s.stack, { nameservers: [`udp:${ns.kernelIp}`], timeoutMs: 3000 });
          assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
          assert.deepEqual(await c.getAddrInfo("host.test"), ["192.0.2.8", "2001:db8::8"]);
          await assert.rejects(c.resolve("x.nx.test", "A"), (e) => e instanceof DnsError && e.code === "nxdomain");
          const big = await c.getHostByName("big.test");
          assert.equal(big.length, BIG.length);
          assert.equal(c.counters.get("truncated-retry-tcp"), 1);
          assert.equal(c.counters.get("spoofed-source"), 0);
        } finally {
          await s.stack.disconnect();
          await dnsmasq.stop();
        }
      },
      { kernelAddress: "192.0.2.1/24", timeoutMs: 90_000 },
    ));
});
