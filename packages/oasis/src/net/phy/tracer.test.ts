import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { setLevels, setReporter } from "oasis/logs";
import { describeFrame, withTracer } from "./tracer.ts";
import { MemorySwitch } from "./switch.ts";

describe("withTracer", () => {
  it("describes ARP and IPv4 frames in one line", () => {
    const arp = new Uint8Array(42);
    arp.fill(0xff, 0, 6);
    arp.set([2, 0, 0, 0, 0, 1], 6);
    arp.set([0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1], 12);
    arp.set([192, 0, 2, 2], 28);
    arp.set([192, 0, 2, 1], 38);
    assert.equal(describeFrame(arp), "42B 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP who-has 192.0.2.1");
    const ip = new Uint8Array(60);
    ip.set([0x08, 0x00], 12);
    ip[14] = 0x45;
    ip[23] = 17;
    ip.set([192, 0, 2, 2, 192, 0, 2, 1], 26);
    assert.match(describeFrame(ip), /IPv4 192\.0\.2\.2 > 192\.0\.2\.1 UDP$/);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        assert.equal(typeof describeFrame(bytes), "string");
      }),
    );
  });

  it("logs every frame in and out at debug level, and passes them through", async () => {
    const lines: string[] = [];
    setReporter((level, src, message) => {
      if (src === "net.trace") lines.push(`${level} ${message}`);
    });
    setLevels([["net.trace", "debug"]]);
    const sw = new MemorySwitch();
    const a = withTracer(sw.port({ mac: "02:00:00:00:00:01" }), "left");
    const b = sw.port({ mac: "02:00:00:00:00:02" });
    let atB = 0;
    b.listen((f) => {
      atB++;
      const reply = f.slice();
      reply.set(f.subarray(6, 12), 0);
      reply.set(b.mac, 6);
      b.write(reply);
    });
    let atA = 0;
    a.listen(() => atA++);
    const f = new Uint8Array(60);
    f.fill(0xff, 0, 6);
    f.set(a.mac, 6);
    f.set([0x88, 0xb5], 12);
    a.write(f);
    await sw.settle();
    assert.equal(atB, 1);
    assert.equal(atA, 1);
    assert.deepEqual(lines, [
      "debug left tx 60B 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x88b5",
      "debug left rx 60B 02:00:00:00:00:02 > 02:00:00:00:00:01 type 0x88b5",
    ]);
    setLevels([["net.trace", "info"]]);
    a.write(f);
    await sw.settle();
    assert.equal(atA, 2);
    assert.equal(lines.length, 2, "nothing logged below debug");
  });
});
