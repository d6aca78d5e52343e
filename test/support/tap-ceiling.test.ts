import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { netnsUnavailable, withNetns } from "./netns.ts";
import { measureTapRx, measureTapRxOffload, measureTapTx } from "./tap-ceiling.ts";

describe("measureTapRx", { skip: netnsUnavailable() }, () => {
  it("counts every blasted frame through the consumer and reports a rate", () =>
    withNetns(async (ns) => {
      let seen = 0;
      let lastSeq = -1;
      const r = await measureTapRx(ns, {
        frames: 20_000,
        frameSize: 100,
        batch: 64,
        onFrame: (f) => {
          const seq = new DataView(f.buffer, f.byteOffset).getUint32(14);
          assert.ok(seq > lastSeq);
          lastSeq = seq;
          assert.equal(f.length, 100);
          seen++;
        },
      });
      assert.equal(seen, 20_000);
      assert.equal(r.frames, 20_000);
      assert.ok(r.framesPerSecond > 1000 && Number.isFinite(r.framesPerSecond), JSON.stringify(r));
      assert.ok(Math.abs(r.bitsPerSecond - r.framesPerSecond * 800) < 1);
      assert.ok(r.readerCpuSeconds > 0);
    }));

  it("delivers tap-blaster's TCP segments merged into 64 KB GSO frames to a TAP with offloads", () =>
    withNetns(async (ns) => {
      const r = await measureTapRxOffload(ns, { segments: 20_000 });
      // GRO merges only segments whose checksums it verified, so merged frames also vouch for
      // tap-blaster's TCP headers.
      assert.ok(r.largestFrame > 1514 && r.largestFrame <= 14 + 65535, JSON.stringify(r));
      assert.ok(r.frames < r.segments / 10, JSON.stringify(r));
      assert.equal(r.segmentSize, 1460);
      // Nothing throttles the sender to the reader, so a loaded machine may drop a few: every
      // segment is either delivered or counted as lost.
      assert.equal(r.payloadBytes + r.lostSegments * 1460, r.segments * 1460);
      assert.ok(r.payloadBytes > 0 && r.bitsPerSecond > 0 && Number.isFinite(r.bitsPerSecond), JSON.stringify(r));
      // The veth pair is gone again.
      assert.doesNotMatch((await ns.exec("ip", ["-o", "link"])).stdout, /oasis-gro/);
    }));

  it("writes frames with each write path and has the kernel count every one", () =>
    withNetns(async (ns) => {
      for (const mode of ["write", "writeMany", "writePacked"] as const) {
        const r = await measureTapTx(ns, { frames: 5_000, mode, batch: 64, frameSize: 80 });
        assert.equal(r.frames, 5_000);
        assert.equal(r.batch, mode === "write" ? 1 : 64);
        assert.ok(r.framesPerSecond > 1000, JSON.stringify(r));
      }
    }));

  it("can blast IPv4/UDP datagrams whose checksums the kernel and tshark accept", () =>
    withNetns(async (ns) => {
      const kernelMac = (await ns.kernelMac()).split(":").map((h) => parseInt(h, 16));
      const udpCounters = async () => {
        const lines = (await ns.exec("cat", ["/proc/net/snmp"])).stdout.split("\n").filter((l) => l.startsWith("Udp:"));
        const names = lines[0]!.split(/\s+/);
        const values = lines[1]!.split(/\s+/).map(Number);
        return Object.fromEntries(names.map((n, i) => [n, values[i]!])) as Record<string, number>;
      };
      const before = await udpCounters();
      const capture = await ns.capture({ filter: "udp and dst host 192.0.2.1" });
      const seqs: number[] = [];
      await measureTapRx(ns, {
        frames: 20,
        frameSize: 100,
        udp: { src: "192.0.2.1", dst: "192.0.2.2", port: 7 },
        onFrame: (f, tap) => {
          seqs.push(new DataView(f.buffer, f.byteOffset).getUint32(42));
          // Swapping the addresses keeps both checksums valid (one's-complement sums commute):
          // sent back, the kernel itself checks them.
          const back = f.slice();
          back.set(kernelMac, 0);
          back.set(tap.mac, 6);
          back.set(f.subarray(30, 34), 26);
          back.set(f.subarray(26, 30), 30);
          tap.write(back);
        },
      });
      assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => i));
      const after = await udpCounters();
      assert.equal(after.InCsumErrors! - before.InCsumErrors!, 0);
      assert.equal(after.NoPorts! - before.NoPorts!, 20, "the kernel accepted all 20 (no socket on port 7)");
      const text = await capture.stop(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-e", "ip.checksum.status", "-e", "udp.checksum.status", "-e", "udp.dstport"]);
      const lines = text.trim().split("\n");
      assert.equal(lines.length, 20, text);
      assert.ok(lines.every((l) => l === "1\t1\t7"), text);
    }));
});
