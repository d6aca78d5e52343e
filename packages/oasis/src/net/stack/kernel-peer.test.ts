// The stack on a TAP in a network namespace, with the Linux kernel as the peer: ping, flood
// ping, fragmented ping, arping, socat and the kernel's UDP sockets.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { netnsUnavailable, withNetns, type Netns } from "../../../../../test/support/netns.ts";
import { ipv4Stack, type Ipv4StackLayers } from "./direct.ts";

const skip = netnsUnavailable();
// The example's client: numbered datagrams through the kernel's UDP sockets, checked on return.
const udpClient = join(import.meta.dirname, "../../../../../examples/applications/udp-echo/udp-client.mjs");

async function withStack(fn: (ns: Netns, s: Ipv4StackLayers) => Promise<void>): Promise<void> {
  await withNetns(
    async (ns) => {
      const s = ipv4Stack(ns.openTap(), { cidr: "192.0.2.2/24", gateway: "192.0.2.1" });
      s.udp.listen(7, (d) => void s.udp.write(d.src, d.srcPort, d.data, { srcPort: 7 }));
      try {
        await fn(ns, s);
      } finally {
        await s.stack.disconnect();
      }
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 90_000 },
  );
}

function count(output: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  assert.ok(m, `ping printed no summary:\n${output}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

describe("direct stack against the Linux kernel", { skip }, () => {
  it("answers 20 pings, fragmented 8000-byte pings, and a 3000-request flood without loss", () =>
    withStack(async (ns, s) => {
      const plain = await ns.exec("ping", ["-c", "20", "-i", "0.05", "-W", "2", "192.0.2.2"]);
      assert.deepEqual(count(plain.stdout), { sent: 20, received: 20 });
      const big = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-s", "8000", "-W", "2", "192.0.2.2"]);
      assert.deepEqual(count(big.stdout), { sent: 3, received: 3 });
      assert.ok(s.ipv4.counters.get("reassembled") >= 3, "the kernel's fragments were reassembled");
      assert.ok(s.ipv4.counters.get("fragments-sent") >= 18, "the replies went out fragmented");
      // The largest ping: 60 000 bytes, 41 fragments each way.
      const huge = await ns.exec("ping", ["-c", "2", "-i", "0.3", "-s", "60000", "-W", "3", "192.0.2.2"]);
      assert.deepEqual(count(huge.stdout), { sent: 2, received: 2 });
      // A flood of 3000 requests (a few seconds here): ping waits for every reply, so none may be missing.
      const started = Date.now();
      const flood = await ns.exec("ping", ["-f", "-c", "3000", "-W", "2", "-w", "60", "192.0.2.2"], { timeoutMs: 90_000, check: false });
      assert.deepEqual(count(flood.stdout), { sent: 3000, received: 3000 }, `flood output (${Date.now() - started} ms):\n${flood.stdout}`);
      assert.equal(s.ipv4.icmp.counters.get("send-failed"), 0);
    }));

  it("is answered by arping and answers the kernel's ARP with the TAP's MAC", () =>
    withStack(async (ns, s) => {
      const r = await ns.exec("arping", ["-c", "3", "-i", ns.tap, "192.0.2.2"], { check: false });
      assert.match(r.stdout, /3 packets transmitted, 3 packets received/, r.stdout + r.stderr);
      const mac = Array.from(s.ethernet.mac, (b) => b.toString(16).padStart(2, "0")).join(":");
      await ns.exec("ping", ["-c", "1", "-W", "2", "192.0.2.2"]); // the kernel's own ARP, not arping's raw socket
      const neigh = await ns.exec("ip", ["neigh", "show", "192.0.2.2"]);
      assert.match(neigh.stdout, new RegExp(mac));
    }));

  it("echoes UDP to socat and 10 000 datagrams from kernel sockets, none lost or altered", () =>
    withStack(async (ns) => {
      const one = await ns.exec("socat", ["-t", "2", "-", "UDP:192.0.2.2:7"], { input: "hello from socat\n" });
      assert.equal(one.stdout, "hello from socat\n");
      const client = ns.spawn(process.execPath, [udpClient, "192.0.2.2", "7", "10000"]);
      const done = await client.exited;
      assert.equal(done.code, 0, client.output());
      assert.deepEqual(JSON.parse(client.output().trim()), { sent: 10000, got: 10000, bad: 0, missing: 0 });
    }));

  it("the kernel gets port unreachable for a closed port", () =>
    withStack(async (ns) => {
      const r = await ns.exec("socat", ["-t", "1", "-", "UDP:192.0.2.2:9999"], { input: "x\n", check: false });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Connection refused/);
    }));

  it("counts hping3's bad checksums and never-completed fragments per reason, and keeps answering", () =>
    withStack(async (ns, s) => {
      await ns.exec("ping", ["-c", "1", "-W", "2", "192.0.2.2"]);
      await ns.exec("hping3", ["-2", "-p", "7", "--badcksum", "-c", "5", "-i", "u10000", "192.0.2.2"], { check: false });
      // More-fragments set and never a last fragment: 300 × 1.2 KiB exceeds the 256 KiB cap.
      await ns.exec("hping3", ["-2", "-p", "7", "--morefrag", "-d", "1200", "-c", "300", "-i", "u1000", "192.0.2.2"], { check: false, timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 200));
      const badSums = s.udp.counters.get("bad-checksum") + s.ipv4.counters.get("bad-checksum");
      assert.equal(badSums, 5, JSON.stringify({ ip: s.ipv4.counters.snapshot(), udp: s.udp.counters.snapshot() }));
      assert.ok(s.ipv4.counters.get("reassembly-evicted") > 0, JSON.stringify(s.ipv4.counters.snapshot()));
      assert.ok(s.ipv4.reassemblyState().bytes <= 256 * 1024);
      const r = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", "192.0.2.2"]);
      assert.deepEqual(count(r.stdout), { sent: 3, received: 3 });
    }));
});
