// The IPv6 layer on a TAP in a network namespace, with the Linux kernel as the peer: ping -6
// (plain, fragmented both ways, link-local), the kernel's neighbour table, UDP through socat and
// kernel sockets, port unreachable, our own pings to the kernel, and SLAAC from radvd.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { addRoutedPeer, netnsUnavailable, withNetns, type Netns } from "../../../../../test/support/netns.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { UdpLayer } from "../udp/udp.ts";
import { formatMac } from "../wire/address.ts";
import { ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST } from "../wire/icmpv6.ts";
import { createTcp } from "../tcp/index.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { Ipv6Layer, type Ipv6Options } from "./ipv6.ts";
import type { Net } from "../../devices/net.ts";
import type { TapNet } from "../phy/tap.ts";
import { tallyOffloads, type OffloadTally } from "../tcp/test-support.ts";

const skip = netnsUnavailable();
const noRadvd = spawnSync("radvd", ["--version"]).error ? "radvd is not installed; run .ci/setup-debian.sh" : undefined;
const udpClient = join(import.meta.dirname, "../../../../../examples/applications/udp-echo/udp-client.mjs");

interface V6 {
  ethernet: EthernetLayer;
  ipv6: Ipv6Layer;
  udp: UdpLayer;
}

async function withV6(fn: (ns: Netns, s: V6) => Promise<void>, options: Ipv6Options = { cidr: "2001:db8::2/64" }, wrap: (tap: TapNet) => Net = (tap) => tap): Promise<void> {
  await withNetns(
    async (ns) => {
      const ethernet = new EthernetLayer(wrap(ns.openTap({ offload: true })));
      const ipv6 = new Ipv6Layer(ethernet, options);
      const udp = new UdpLayer(ipv6);
      udp.listen(7, (d) => void udp.write(d.src, d.srcPort, d.data, { srcPort: 7 }));
      try {
        await ipv6.settled();
        await fn(ns, { ethernet, ipv6, udp });
      } finally {
        await ipv6.disconnect();
        await ethernet.disconnect();
      }
    },
    { kernelAddress: "2001:db8::1/64", timeoutMs: 90_000 },
  );
}

function count(output: string): { sent: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(output);
  assert.ok(m, `ping printed no summary:\n${output}`);
  return { sent: Number(m[1]), received: Number(m[2]) };
}

describe("IPv6 against the Linux kernel", { skip }, () => {
  it("answers ping -6, fragmented 3000-byte pings both ways, link-local pings and a flood; the kernel's neighbour table has our MAC", () =>
    withV6(async (ns, s) => {
      const plain = await ns.exec("ping", ["-6", "-c", "10", "-i", "0.05", "-W", "2", "2001:db8::2"]);
      assert.deepEqual(count(plain.stdout), { sent: 10, received: 10 });
      const big = await ns.exec("ping", ["-6", "-c", "3", "-i", "0.2", "-s", "3000", "-W", "2", "2001:db8::2"]);
      assert.deepEqual(count(big.stdout), { sent: 3, received: 3 });
      assert.ok(s.ipv6.counters.get("reassembled") >= 3, JSON.stringify(s.ipv6.counters.snapshot()));
      assert.ok(s.ipv6.counters.get("fragments-sent") >= 9, "the replies went out fragmented");
      const ll = s.ipv6.addressInfo().find((a) => a.origin === "link-local")!.address;
      const local = await ns.exec("ping", ["-6", "-c", "2", "-i", "0.2", "-W", "2", `${ll}%${ns.tap}`]);
      assert.deepEqual(count(local.stdout), { sent: 2, received: 2 });
      const neigh = await ns.exec("ip", ["-6", "neigh", "show", "2001:db8::2", "dev", ns.tap]);
      assert.match(neigh.stdout, new RegExp(`lladdr ${formatMac(s.ethernet.mac)} (REACHABLE|STALE|DELAY|PROBE)`), neigh.stdout);
      // A flood of 3000 requests: ping waits for every reply, so none may be missing.
      const flood = await ns.exec("ping", ["-6", "-f", "-c", "3000", "-W", "2", "-w", "60", "2001:db8::2"], { timeoutMs: 90_000, check: false });
      assert.deepEqual(count(flood.stdout), { sent: 3000, received: 3000 }, flood.stdout);
      assert.equal(s.ipv6.counters.get("handler-error"), 0);
      assert.equal(s.ipv6.counters.get("send-failed"), 0);
    }));

  it("echoes UDP to socat (also 3000 bytes, fragmented) and 2000 datagrams from kernel sockets", () =>
    withV6(async (ns) => {
      const one = await ns.exec("socat", ["-t", "2", "-", "UDP6:[2001:db8::2]:7"], { input: "hello over IPv6\n" });
      assert.equal(one.stdout, "hello over IPv6\n");
      const large = "x".repeat(2999) + "\n";
      const two = await ns.exec("socat", ["-t", "2", "-b", "4096", "-", "UDP6:[2001:db8::2]:7"], { input: large });
      assert.equal(two.stdout, large);
      const client = ns.spawn(process.execPath, [udpClient, "2001:db8::2", "7", "2000"]);
      const done = await client.exited;
      assert.equal(done.code, 0, client.output());
      assert.deepEqual(JSON.parse(client.output().trim()), { sent: 2000, got: 2000, bad: 0, missing: 0 });
    }));

  it("the kernel gets port unreachable for a closed port; a kernel UDP socket hears us", () =>
    withV6(async (ns, s) => {
      const r = await ns.exec("socat", ["-t", "1", "-", "UDP6:[2001:db8::2]:9999"], { input: "x\n", check: false });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Connection refused/);
      const server = ns.spawn("socat", ["-u", "UDP6-RECV:9000", "STDOUT"]);
      // socat may not be bound yet on a loaded machine: send until it prints one.
      const heard = server.waitFor(/from oasis/, 20_000);
      const resend = setInterval(() => void s.udp.write("2001:db8::1", 9000, new TextEncoder().encode("from oasis\n")), 200);
      try {
        await heard;
      } finally {
        clearInterval(resend);
      }
      await server.stop();
    }));

  it("carries TCP both ways with the kernel, in merged frames of up to 64 KB (TAP offloads): 4 MB echoed to socat over TCP6, and a connection to a kernel listener", () => {
    let tally: OffloadTally | undefined;
    const tallied = (tap: TapNet): Net => {
      const t = tallyOffloads(tap);
      tally = t.tally;
      return t.net;
    };
    return withV6(async (ns, s) => {
      const tcp = createTcp(s.ipv6);
      tcp.listen(8080, async (flow: TcpFlow) => {
        for (;;) {
          const c = await flow.read();
          if (c === null) break;
          await flow.write(c);
        }
        await flow.close();
      });
      const r = await ns.exec("sh", [
        "-c",
        "f=$(mktemp); g=$(mktemp); head -c 4000000 /dev/urandom > $f; socat -t 10 -T 30 STDIO TCP6:[2001:db8::2]:8080 > $g < $f; sha256sum < $f; sha256sum < $g; rm -f $f $g",
      ], { timeoutMs: 60_000 });
      const [sent, echoed] = r.stdout.trim().split("\n").map((l) => l.split(" ")[0]);
      assert.equal(echoed, sent);
      const t = tally!;
      assert.ok(t.rxMerged > 0 && t.rxLargest > 1514 && t.rxChecksumOk > 0, `merged IPv6 frames from the kernel: ${JSON.stringify(t)}`);
      assert.ok(t.txSegmented > 0 && t.txLargest > 1514, `IPv6 segmentation requests to the kernel: ${JSON.stringify(t)}`);
      const server = ns.spawn("socat", ["-u", "TCP6-LISTEN:9000,reuseaddr", "SYSTEM:sha256sum"]);
      const data = new Uint8Array(200_000).map((_, i) => (i * 31) % 256);
      // Refused until socat listens (a loaded machine may take a while to start it).
      let flow: TcpFlow | undefined;
      for (let i = 0; flow === undefined; i++) {
        try {
          flow = await tcp.connect("2001:db8::1", 9000);
        } catch (e) {
          if (i >= 50) throw e;
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      await flow.write(data);
      await flow.close();
      await server.waitFor(new RegExp(createHash("sha256").update(data).digest("hex")), 20_000);
      await server.stop();
    }, undefined, tallied);
  });

  it("pings the kernel itself, small and 3000 bytes, resolving its address", () =>
    withV6(async (_ns, s) => {
      const replies = new Map<number, number>();
      const got = new Promise<void>((resolve) =>
        s.ipv6.icmp.listen((src, _dst, m) => {
          if (m[0] === ICMPV6_ECHO_REPLY && src === "2001:db8::1") {
            replies.set((m[6]! << 8) | m[7]!, m.length);
            if (replies.size === 2) resolve();
          }
        }),
      );
      for (const [seq, size] of [
        [1, 56],
        [2, 3000],
      ] as const) {
        const m = new Uint8Array(8 + size);
        m[0] = ICMPV6_ECHO_REQUEST;
        m[5] = 42;
        m[7] = seq;
        s.ipv6.icmp.write("2001:db8::1", m);
      }
      await got;
      assert.deepEqual([...replies].sort(), [
        [1, 64],
        [2, 3008],
      ]);
      assert.equal(s.ipv6.neighbours.snapshot().find((n) => n.address === "2001:db8::1")?.state, "reachable");
    }));

  it("duplicate address detection both ways: the kernel defends its address against us, and fails its own DAD on ours", () =>
    withNetns(
      async (ns) => {
        const ethernet = new EthernetLayer(ns.openTap());
        // The kernel already holds 2001:db8::1; we try to take it.
        const ipv6 = new Ipv6Layer(ethernet, { cidr: "2001:db8::1/64" });
        try {
          await ipv6.settled();
          assert.equal(ipv6.counters.get("dad-failed"), 1, JSON.stringify(ipv6.counters.snapshot()));
          assert.deepEqual(ipv6.configuredAddresses().map((a) => a.address), [ipv6.addressInfo()[0]!.address], "only the link-local address is left");
          assert.match(ipv6.addressInfo()[0]!.address, /^fe80::/);
          // Now the kernel tries (with DAD) to take our link-local address.
          const ours = ipv6.addressInfo()[0]!.address;
          await ns.exec("ip", ["-6", "addr", "add", `${ours}/64`, "dev", ns.tap]);
          let state = "";
          for (let i = 0; i < 60 && !/dadfailed/.test(state); i++) {
            await new Promise((r) => setTimeout(r, 100));
            state = (await ns.exec("ip", ["-6", "addr", "show", "dev", ns.tap])).stdout;
          }
          assert.match(state, new RegExp(`${ours}/64 scope link.*dadfailed`), state);
        } finally {
          await ipv6.disconnect();
          await ethernet.disconnect();
        }
      },
      { kernelAddress: "2001:db8::1/64", timeoutMs: 60_000 },
    ));

  it("path MTU discovery through a kernel router with a 1280-byte link: its Packet Too Big shrinks TCP's MSS and 2 MB arrive intact", () =>
    withV6(
      async (ns, s) => {
        // A host behind the kernel, which routes to it over a 1280-byte link (addRoutedPeer).
        const far = await addRoutedPeer(ns, { routerMtu: 1280 });
        try {
          const sink = ns.spawn("ip", ["netns", "exec", far.name, "sh", "-c", "socat -u TCP6-LISTEN:9001,reuseaddr - | sha256sum"]);
          const other = ns.spawn("ip", ["netns", "exec", far.name, "sh", "-c", "socat -u TCP6-LISTEN:9002,reuseaddr - | sha256sum"]);
          // MTU-sized segments of our own (no TSO), so the IPv6 layer sees each one's size.
          const tcp = createTcp(s.ipv6, { offload: false });
          const data = new Uint8Array(2_000_000).map((_, i) => (i * 7 + (i >> 11)) % 256);
          const connect = async (port: number): Promise<TcpFlow> => {
            for (let i = 0; ; i++) {
              try {
                return await tcp.connect(far.ipv6, port);
              } catch (e) {
                if (i >= 50) throw e;
                await new Promise((resolve) => setTimeout(resolve, 100));
              }
            }
          };
          // Opened before anything taught us the path MTU, so its MSS is the link's.
          const idle = await connect(9002);
          const flow = await connect(9001);
          await flow.write(data);
          await flow.close();
          await sink.waitFor(new RegExp(createHash("sha256").update(data).digest("hex")), 30_000);
          // The other connection's full-sized segments now exceed the path MTU the IPv6 layer
          // learnt: they must still arrive (fragmented at the source), not be refused forever.
          const more = data.subarray(0, 300_000);
          await idle.write(more);
          await idle.close();
          await other.waitFor(new RegExp(createHash("sha256").update(more).digest("hex")), 30_000);
          await other.stop();
          const t = tcp.stats();
          assert.ok(t.pathMtuReductions >= 1 && t.icmpErrors >= 1, JSON.stringify(t));
          assert.ok((s.ipv6.counters.get("packet-too-big") ?? 0) >= 1, "the IPv6 layer heard the Packet Too Big");
          assert.equal(s.ipv6.mtu(far.ipv6), 1280 - 40, "and keeps the path MTU for new connections");
          await sink.stop();
        } finally {
          far.remove();
        }
      },
      { cidr: "2001:db8::2/64", gateway: "2001:db8::1" },
    ));

  it("takes a SLAAC address, a default router and the MTU from radvd, and answers ping there", { skip: noRadvd }, () =>
    withV6(
      async (ns, s) => {
        const conf = join(ns.tmpDir, "radvd.conf");
        writeFileSync(
          conf,
          `interface ${ns.tap} {
  AdvSendAdvert on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 4;
  AdvLinkMTU 1400;
  AdvDefaultLifetime 60;
  prefix 2001:db8:1::/64 { AdvOnLink on; AdvAutonomous on; AdvValidLifetime 300; AdvPreferredLifetime 120; };
};
`,
        );
        await ns.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
        await ns.exec("ip", ["-6", "addr", "add", "2001:db8:1::1/64", "dev", ns.tap, "nodad"]);
        // The kernel's link-local address must have finished its own DAD before radvd can send.
        for (let i = 0; i < 50; i++) {
          const a = await ns.exec("ip", ["-6", "addr", "show", "dev", ns.tap, "scope", "link"]);
          if (/fe80::/.test(a.stdout) && !/tentative/.test(a.stdout)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        const radvd = ns.spawn("radvd", ["-n", "-m", "stderr", "-C", conf, "-p", join(ns.tmpDir, "radvd.pid"), "-u", "root"]);
        const slaac = await new Promise<string>((resolve, reject) => {
          const started = Date.now();
          const poll = setInterval(() => {
            const a = s.ipv6.addressInfo().find((x) => x.origin === "slaac" && x.state === "preferred");
            if (a) {
              clearInterval(poll);
              resolve(a.address);
            } else if (Date.now() - started > 30_000) {
              clearInterval(poll);
              reject(new Error(`no SLAAC address after 30 s; radvd said:\n${radvd.output()}\ncounters ${JSON.stringify(s.ipv6.counters.snapshot())}`));
            }
          }, 100);
        });
        const mac = s.ethernet.mac;
        const iid = [(mac[0]! ^ 2) << 8 | mac[1]!, (mac[2]! << 8) | 0xff, 0xfe00 | mac[3]!, (mac[4]! << 8) | mac[5]!].map((w) => w.toString(16)).join(":");
        assert.equal(slaac, `2001:db8:1:0:${iid}`);
        const info = s.ipv6.addressInfo().find((x) => x.address === slaac)!;
        assert.ok(info.validUntil - info.preferredUntil > 170_000 && info.validUntil - info.preferredUntil < 190_000);
        assert.equal(s.ipv6.currentMtu, 1400);
        assert.equal(s.ipv6.defaultRouters().length, 1);
        assert.match(s.ipv6.defaultRouters()[0]!, /^fe80::/);
        const r = await ns.exec("ping", ["-6", "-c", "3", "-i", "0.2", "-W", "2", slaac]);
        assert.deepEqual(count(r.stdout), { sent: 3, received: 3 });
        await radvd.stop();
      },
      {},
    ));
});
