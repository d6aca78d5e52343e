// The TAP device against the Linux kernel in a network namespace: the kernel's ARP, ICMP and a
// raw-socket sender are the peers; tshark and the kernel's own counters are the witnesses.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { netnsUnavailable, withNetns, type Netns } from "../../../../../test/support/netns.ts";
import { NetError } from "../../devices/errors.ts";
import { setReporter } from "oasis/logs";
import type { Net } from "../../devices/net.ts";
import { MemorySwitch } from "./switch.ts";
import { openTap, simulateKernelBusy, type TapNet } from "./tap.ts";
import { tapBlasterFile } from "./tap-addon.ts";
import { rawResponder } from "./fixtures/tap-responder/raw-responder.ts";

const skip = netnsUnavailable();
const US_IP = [192, 0, 2, 2];
const US_MAC = "02:00:00:00:00:02";

function macText(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** Answers ARP and ICMP echo requests for US_IP (or `ip`), by hand, with raw bytes. */
function answerArpAndPing(tap: Net, seen: Uint8Array[]): void {
  tap.listen(responder(tap, seen));
}

function responder(tap: Net, seen: Uint8Array[], ip: readonly number[] = US_IP): (f: Uint8Array) => void {
  const answer = rawResponder(tap, ip);
  return (f) => {
    seen.push(f.slice());
    answer(f);
  };
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function counter(ns: Netns, name: string): number {
  const r = spawnSync("ip", ["netns", "exec", ns.name, "cat", `/sys/class/net/${ns.tap}/statistics/${name}`], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

describe("TAP device against the Linux kernel", { skip }, () => {
  it("receives the kernel's ARP request and answers ping with hand-built replies", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC });
      const seen: Uint8Array[] = [];
      answerArpAndPing(tap, seen);
      const ping = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "3", "192.0.2.2"], { check: false });
      assert.equal(ping.code, 0, `ping failed:\n${ping.stdout}${ping.stderr}`);
      assert.match(ping.stdout, /3 received/);
      const arp = seen.find((f) => f[12] === 0x08 && f[13] === 0x06);
      assert.ok(arp, "an ARP request from the kernel reached JS");
      assert.equal(macText(arp!.subarray(6, 12)), await ns.kernelMac());
      assert.deepEqual([...arp!.subarray(28, 32)], [192, 0, 2, 1]);
      const neigh = await ns.exec("ip", ["neigh", "show", "192.0.2.2", "dev", ns.tap]);
      assert.match(neigh.stdout, new RegExp(`lladdr ${US_MAC}`));
      const s = tap.stats();
      assert.ok(s.rxPackets >= 4 && s.txPackets >= 4, JSON.stringify(s));
    }));

  it("writes frames the kernel sees on the wire (tshark) and counts (statistics)", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC });
      const capture = await ns.capture({ filter: "ether proto 0x88b5" });
      const before = counter(ns, "rx_packets");
      const frames = Array.from({ length: 100 }, (_, i) => {
        const f = new Uint8Array(64);
        f.fill(0xff, 0, 6);
        f.set(tap.mac, 6);
        f[12] = 0x88;
        f[13] = 0xb5;
        f[14] = i;
        return f;
      });
      tap.write(frames[0]!);
      tap.writeMany(frames.slice(1, 50));
      const packed = new Uint8Array(64 * 50);
      const lengths = new Uint32Array(50);
      frames.slice(50).forEach((f, i) => {
        packed.set(f, i * 64);
        lengths[i] = 64;
      });
      tap.writePacked(packed, lengths, 50);
      await until(() => counter(ns, "rx_packets") - before >= 100, "the kernel to count 100 frames");
      assert.equal(tap.stats().txPackets, 100);
      const text = await capture.stop(["-T", "fields", "-e", "eth.src", "-e", "eth.type"]);
      const lines = text.trim().split("\n");
      assert.equal(lines.length, 100, text);
      assert.ok(lines.every((l) => l === `${US_MAC}\t0x88b5`), text.slice(0, 300));
    }));

  it("delivers every frame the kernel blasts, in order (batch of 64 per wake-up)", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC, batch: 64 });
      const total = 5000;
      let received = 0;
      let lastSeq = -1;
      let ordered = true;
      tap.listen((f) => {
        if (f[12] !== 0x88 || f[13] !== 0xb5) return;
        const seq = (f[14]! << 24) | (f[15]! << 16) | (f[16]! << 8) | f[17]!;
        if (seq <= lastSeq) ordered = false;
        lastSeq = seq;
        received++;
      });
      // The blaster retries what the TAP's full ring refuses, so every frame it reports sent was
      // queued for us exactly once.
      const blast = await ns.exec(tapBlasterFile(), [ns.tap, US_MAC, String(total), "60"]);
      const report = JSON.parse(blast.stdout) as { sent: number };
      assert.equal(report.sent, total);
      await until(() => received >= total, `all ${total} frames (got ${received})`);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(received, total);
      assert.ok(ordered, "sequence numbers only increase");
      assert.equal(tap.stats().rxPackets, total);
    }));

  it("queues writes while the kernel is busy, flushes them in order, and drops beyond the bound", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC, queueLimit: 3 });
      const capture = await ns.capture({ filter: "ether proto 0x88b5" });
      const frame = (seq: number) => {
        const f = new Uint8Array(60);
        f.fill(0xff, 0, 6);
        f.set(tap.mac, 6);
        f.set([0x88, 0xb5, seq], 12);
        return f;
      };
      simulateKernelBusy(tap, 2); // the first attempt and the first flush both meet EAGAIN
      for (let i = 0; i < 5; i++) tap.write(frame(i));
      const s = tap.stats();
      assert.deepEqual([s.txPackets, s.txQueueLength, s.txDropped, s.txQueuedTotal], [0, 3, 2, 3]);
      await until(() => tap.stats().txQueueLength === 0, "the queue to drain once the fd is writable");
      tap.write(frame(5));
      assert.equal(tap.stats().txPackets, 4);
      const seqs = await capture.stop(["-T", "fields", "-e", "eth.type", "-e", "data.data"]);
      assert.deepEqual(
        seqs.trim().split("\n").map((l) => parseInt(l.split("\t")[1]!.slice(0, 2), 16)),
        [0, 1, 2, 5],
      );
    }));

  it("drops and counts frames longer than its MTU instead of handing out truncated ones", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC, mtu: 200 }); // the kernel side keeps MTU 1500
      const sizes: number[] = [];
      const answer = responder(tap, []);
      tap.listen((f) => {
        sizes.push(f.length);
        answer(f);
      });
      await ns.exec("ping", ["-c", "1", "-W", "2", "-s", "100", "192.0.2.2"]);
      await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "1", "-s", "1000", "192.0.2.2"], { check: false });
      assert.ok(sizes.every((n) => n <= 214), `sizes seen: ${sizes.join(",")}`);
      assert.equal(tap.stats().rxDropped, 2);
    }));

  it("creates a TAP that does not exist yet, which goes away when disconnected", () =>
    withNetns(async (ns) => {
      const lines: string[] = [];
      setReporter((level, src, message) => void lines.push(`${level} ${src} ${message}`));
      let tap: TapNet;
      try {
        tap = openTap("tapNew", { netns: ns.name });
        void ns.openTap().disconnect(); // the existing TAP: no warning
      } finally {
        setReporter((level, src, message) => console.log(`${level} [${src}] ${message}`));
      }
      assert.equal(tap.name, "tapNew");
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(lines[0]!, /^warning net\.tap TAP tapNew did not exist, so it was created; .*ip tuntap add mode tap user \$USER name tapNew/);
      assert.match((await ns.exec("ip", ["-o", "link", "show", "tapNew"])).stdout, /tapNew/);
      await tap.disconnect();
      const gone = await ns.exec("ip", ["link", "show", "tapNew"], { check: false });
      assert.notEqual(gone.code, 0);
    }));

  it("bridges a MemorySwitch onto the TAP: two in-process hosts answer the kernel", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap();
      const sw = new MemorySwitch();
      sw.attach(tap, "tap0");
      const hosts = [
        [192, 0, 2, 2],
        [192, 0, 2, 3],
      ].map((ip, i) => {
        const port = sw.port({ mac: `02:00:00:00:00:1${i}` });
        port.listen(responder(port, [], ip));
        return port;
      });
      for (const ip of ["192.0.2.2", "192.0.2.3"]) {
        const ping = await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "3", ip], { check: false });
        assert.equal(ping.code, 0, `${ip}: ${ping.stdout}${ping.stderr}`);
      }
      const neigh = (await ns.exec("ip", ["neigh", "show", "dev", ns.tap])).stdout;
      assert.match(neigh, /192\.0\.2\.2 lladdr 02:00:00:00:00:10/);
      assert.match(neigh, /192\.0\.2\.3 lladdr 02:00:00:00:00:11/);
      assert.ok(hosts.every((h) => h.stats().txPackets >= 3));
    }));

  it("explains what is wrong when a TAP cannot be opened", () =>
    withNetns(async (ns) => {
      const first = ns.openTap();
      assert.throws(
        () => ns.openTap(),
        (e: unknown) => e instanceof NetError && e.code === "unavailable" && /already in use by another process/.test(e.message),
      );
      await first.disconnect();
      assert.throws(
        () => openTap("lo", { netns: ns.name }),
        (e: unknown) => e instanceof NetError && e.code === "unavailable" && /lo exists but is not a TAP/.test(e.message),
      );
      assert.throws(
        () => openTap("tap0", { netns: `${ns.name}-missing` }),
        (e: unknown) => e instanceof NetError && /no network namespace/.test(e.message),
      );
      assert.throws(() => openTap("has space"), (e: unknown) => e instanceof NetError && /not a valid interface name/.test(e.message));
      // Bad options are refused before the TAP is attached, so it stays free.
      assert.throws(() => ns.openTap({ batch: 0 }), /batch must be an integer/);
      assert.throws(() => ns.openTap({ mtu: 10 }), /mtu must be an integer/);
      assert.throws(() => ns.openTap({ mac: "nope" }), /not a MAC address/);
      await ns.openTap().disconnect();
    }));

  it("rejects bad frames and writes after disconnect, and stops delivering after disconnect", () =>
    withNetns(async (ns) => {
      const tap: TapNet = ns.openTap({ mtu: 1500 });
      assert.throws(() => tap.write(new Uint8Array(13)), (e: unknown) => e instanceof NetError && e.code === "invalid-length");
      assert.throws(() => tap.write(new Uint8Array(1515)), (e: unknown) => e instanceof NetError && e.code === "invalid-length");
      let got = 0;
      tap.listen(() => got++);
      await tap.disconnect();
      await tap.disconnect(); // idempotent
      assert.throws(() => tap.write(new Uint8Array(60)), (e: unknown) => e instanceof NetError && e.code === "disconnected");
      await ns.exec("ping", ["-c", "1", "-W", "1", "192.0.2.9"], { check: false });
      assert.equal(got, 0);
    }));

  it("keeps working after a listener throws", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC });
      let calls = 0;
      tap.listen(() => {
        calls++;
        throw new Error("listener bug");
      });
      // arping (a real peer) sends exactly 3 requests, 0.2 s apart, whatever the load.
      await ns.exec("arping", ["-c", "3", "-W", "0.2", "-i", ns.tap, "192.0.2.2"], { check: false });
      await until(() => calls >= 3, "all 3 ARP requests to reach the throwing listener");
    }));

  it("survives the interface being deleted under it", () =>
    withNetns(async (ns) => {
      const tap = ns.openTap({ mac: US_MAC });
      tap.listen(() => {});
      await ns.exec("ip", ["link", "del", ns.tap]);
      await new Promise((r) => setTimeout(r, 100));
      tap.write(new Uint8Array(60)); // lost, counted, not thrown
      assert.equal(tap.stats().txDropped, 1);
      await tap.disconnect();
    }));
});
