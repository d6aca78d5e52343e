import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { pcapHeader, withPcap } from "./pcap.ts";
import { MemorySwitch } from "./switch.ts";
import { internetChecksum } from "../wire/checksum.ts";

const dir = mkdtempSync(join(tmpdir(), "oasis-pcap-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const tshark = spawnSync("tshark", ["-v"]).status === 0;

function arpRequest(srcMac: Uint8Array): Uint8Array {
  const f = new Uint8Array(42);
  f.fill(0xff, 0, 6);
  f.set(srcMac, 6);
  f.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
  f.set(srcMac, 22);
  f.set([192, 0, 2, 2], 28);
  f.set([192, 0, 2, 1], 38);
  return f;
}

function icmpEcho(dst: Uint8Array, src: Uint8Array, seq: number): Uint8Array {
  const f = new Uint8Array(14 + 20 + 8 + 16);
  f.set(dst, 0);
  f.set(src, 6);
  f.set([0x08, 0x00], 12);
  f.set([0x45, 0, 0, 44, 0, seq, 0x40, 0, 64, 1, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1], 14);
  const ipSum = internetChecksum(f, 14, 34);
  f[24] = ipSum >> 8;
  f[25] = ipSum & 0xff;
  f.set([8, 0, 0, 0, 0x12, 0x34, 0, seq], 34);
  for (let i = 0; i < 16; i++) f[42 + i] = i;
  const icmpSum = internetChecksum(f, 34);
  f[36] = icmpSum >> 8;
  f[37] = icmpSum & 0xff;
  return f;
}

describe("withPcap", () => {
  it("writes the libpcap global header for Ethernet", () => {
    const h = pcapHeader();
    const v = new DataView(h.buffer);
    assert.equal(v.getUint32(0, true), 0xa1b2c3d4);
    assert.equal(v.getUint16(4, true), 2);
    assert.equal(v.getUint16(6, true), 4);
    assert.equal(v.getUint32(16, true), 65535);
    assert.equal(v.getUint32(20, true), 1);
  });

  it("records every frame in and out, in order, with increasing timestamps", async () => {
    const chunks: Uint8Array[] = [];
    const sw = new MemorySwitch();
    const a = withPcap(sw.port(), { write: (b) => chunks.push(b.slice()) });
    const b = sw.port();
    b.listen((f) => b.write(icmpEcho(f.subarray(6, 12), b.mac, 100 + f[41]!)));
    a.listen(() => {});
    for (let i = 0; i < 3; i++) a.write(icmpEcho(b.mac, a.mac, i));
    await sw.settle();
    await a.disconnect();
    const bytes = Buffer.concat(chunks);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    let off = 24;
    const seqs: number[] = [];
    let lastTs = 0;
    while (off < bytes.length) {
      const ts = v.getUint32(off, true) * 1e6 + v.getUint32(off + 4, true);
      const incl = v.getUint32(off + 8, true);
      assert.equal(v.getUint32(off + 12, true), incl);
      assert.ok(ts >= lastTs);
      lastTs = ts;
      seqs.push(bytes[off + 16 + 41]!);
      off += 16 + incl;
    }
    assert.equal(off, bytes.length);
    assert.deepEqual(seqs, [0, 1, 2, 100, 101, 102]);
    assert.ok(Math.abs(lastTs / 1000 - Date.now()) < 60_000, "timestamps are wall-clock time");
  });

  it("truncates records to the snap length but keeps the original length", async () => {
    const chunks: Uint8Array[] = [];
    const sw = new MemorySwitch();
    const a = withPcap(sw.port(), { write: (b) => chunks.push(b.slice()) }, { snaplen: 20 });
    a.write(icmpEcho(new Uint8Array(6).fill(0xff), a.mac, 1));
    await a.disconnect();
    const bytes = Buffer.concat(chunks);
    assert.equal(bytes.readUInt32LE(24 + 8), 20);
    assert.equal(bytes.readUInt32LE(24 + 12), 58);
    assert.equal(bytes.length, 24 + 16 + 20);
  });

  it("passes refused writes through as errors without recording them", async () => {
    const chunks: Uint8Array[] = [];
    const sw = new MemorySwitch();
    const a = withPcap(sw.port(), { write: (b) => chunks.push(b.slice()) });
    assert.throws(() => a.write(new Uint8Array(2000)), /frame must be/);
    await a.disconnect();
    assert.equal(Buffer.concat(chunks).length, 24);
  });

  it("produces a file tshark reads without malformed-packet warnings", { skip: tshark ? false : "tshark is not installed (.ci/setup-debian.sh)" }, async () => {
    const file = join(dir, "trace.pcap");
    const sw = new MemorySwitch();
    const a = withPcap(sw.port({ mac: "02:00:00:00:00:0a" }), file);
    const b = sw.port({ mac: "02:00:00:00:00:0b" });
    b.listen((f) => {
      if (f[12] === 0x08 && f[13] === 0x00) b.write(icmpEcho(f.subarray(6, 12), b.mac, 50));
    });
    a.listen(() => {});
    a.write(arpRequest(a.mac));
    a.write(icmpEcho(b.mac, a.mac, 7));
    await sw.settle();
    await a.disconnect();
    const r = spawnSync("tshark", ["-r", file, "-n", "-T", "fields", "-e", "frame.protocols", "-e", "eth.src", "-e", "_ws.expert.message"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const warnings = r.stderr.split("\n").filter((l) => l.trim() && !/Running as user "root"/.test(l));
    assert.deepEqual(warnings, [], "tshark printed no warnings");
    const lines = r.stdout.replace(/\n$/, "").split("\n");
    assert.equal(lines.length, 3, r.stdout);
    assert.match(lines[0]!, /^eth:ethertype:arp\t02:00:00:00:00:0a\t$/);
    assert.match(lines[1]!, /^eth:ethertype:ip:icmp:data\t02:00:00:00:00:0a\t$/);
    assert.match(lines[2]!, /^eth:ethertype:ip:icmp:data\t02:00:00:00:00:0b\t$/);
    assert.doesNotMatch(r.stdout, /[Mm]alformed/);
    assert.ok(readFileSync(file).length > 24);
  });

  it("round-trips any sequence of frames (records parse back to the same bytes)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 14, maxLength: 1514 }), { maxLength: 30 }), async (frames) => {
        const chunks: Uint8Array[] = [];
        const sw = new MemorySwitch();
        const a = withPcap(sw.port(), { write: (b) => chunks.push(b.slice()) });
        for (const f of frames) a.write(f);
        await a.disconnect();
        const bytes = Buffer.concat(chunks);
        const back: Uint8Array[] = [];
        for (let off = 24; off < bytes.length; ) {
          const incl = bytes.readUInt32LE(off + 8);
          back.push(new Uint8Array(bytes.subarray(off + 16, off + 16 + incl)));
          off += 16 + incl;
        }
        assert.deepEqual(back, frames.map((f) => new Uint8Array(f)));
      }),
      { numRuns: 50 },
    );
  });

  it("flushes what it recorded when the process exits without disconnecting", () => {
    const file = join(dir, "exit.pcap");
    const r = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `import { withPcap } from "./pcap.ts";
         import { MemorySwitch } from "./switch.ts";
         const net = withPcap(new MemorySwitch().port(), ${JSON.stringify(file)});
         for (let i = 0; i < 5; i++) net.write(new Uint8Array(60).fill(i));
         process.exit(0);`,
      ],
      { cwd: import.meta.dirname, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(readFileSync(file).length, 24 + 5 * (16 + 60));
  });
});
