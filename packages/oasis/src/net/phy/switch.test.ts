import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NetError } from "../../devices/errors.ts";
import type { Net } from "../../devices/net.ts";
import { MemorySwitch } from "./switch.ts";

const BROADCAST = "ff:ff:ff:ff:ff:ff";

function frame(dst: string | Uint8Array, src: Uint8Array, payload: number[] = [1, 2, 3], length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set(typeof dst === "string" ? dst.split(":").map((h) => parseInt(h, 16)) : dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // local experimental EtherType
  f.set(payload, 14);
  return f;
}

function collect(net: Net): Uint8Array[] {
  const got: Uint8Array[] = [];
  net.listen((f) => got.push(f.slice()));
  return got;
}

describe("MemorySwitch", () => {
  it("delivers unicast only to the port owning the destination MAC", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const c = sw.port();
    const [ga, gb, gc] = [collect(a), collect(b), collect(c)];
    a.write(frame(b.mac, a.mac, [9, 8, 7]));
    await sw.settle();
    assert.equal(gb.length, 1);
    assert.deepEqual([...gb[0]!.subarray(14, 17)], [9, 8, 7]);
    assert.equal(ga.length, 0);
    assert.equal(gc.length, 0);
    assert.equal(sw.stats().unknownDestination, 0);
  });

  it("floods broadcast and multicast to every port but the sender", async () => {
    const sw = new MemorySwitch();
    const ports = [sw.port(), sw.port(), sw.port(), sw.port()];
    const got = ports.map(collect);
    ports[1]!.write(frame(BROADCAST, ports[1]!.mac));
    ports[2]!.write(frame("01:00:5e:00:00:fb", ports[2]!.mac));
    await sw.settle();
    assert.deepEqual(
      got.map((g) => g.length),
      [2, 1, 1, 2],
    );
  });

  it("never delivers inside write: delivery happens after the sender returns", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    let delivered = false;
    b.listen(() => {
      delivered = true;
    });
    a.write(frame(b.mac, a.mac));
    assert.equal(delivered, false);
    await Promise.resolve();
    await sw.settle();
    assert.equal(delivered, true);
  });

  it("copies on write, so the sender may reuse its buffer at once", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const got = collect(b);
    const buf = frame(b.mac, a.mac, [1]);
    a.write(buf);
    buf[14] = 2;
    a.write(buf);
    await sw.settle();
    assert.deepEqual(
      got.map((f) => f[14]),
      [1, 2],
    );
  });

  it("gives each receiver of a broadcast its own bytes", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const c = sw.port();
    b.listen((f) => f.fill(0)); // a stack that rewrites received frames in place
    const got = collect(c);
    a.write(frame(BROADCAST, a.mac, [5]));
    await sw.settle();
    assert.equal(got[0]![14], 5);
  });

  it("lets replies written inside a handler arrive in a later batch (ping-pong terminates)", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    let depth = 0;
    let maxDepth = 0;
    let hops = 0;
    const bounce = (self: Net, peer: Net) => (f: Uint8Array) => {
      depth++;
      maxDepth = Math.max(maxDepth, depth);
      hops++;
      if (f[14]! < 10) self.write(frame(peer.mac, self.mac, [f[14]! + 1]));
      depth--;
    };
    a.listen(bounce(a, b));
    b.listen(bounce(b, a));
    a.write(frame(b.mac, a.mac, [0]));
    await sw.settle();
    assert.equal(hops, 11);
    assert.equal(maxDepth, 1);
  });

  it("shows every frame to a promiscuous port", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const sniffer = sw.port({ promiscuous: true });
    const got = collect(sniffer);
    a.write(frame(b.mac, a.mac));
    b.write(frame(a.mac, b.mac));
    await sw.settle();
    assert.equal(got.length, 2);
  });

  it("counts unicast to an unknown MAC instead of flooding it", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const got = collect(b);
    a.write(frame("02:99:99:99:99:99", a.mac));
    await sw.settle();
    assert.equal(got.length, 0);
    assert.equal(sw.stats().unknownDestination, 1);
  });

  it("bridges through an attached uplink: unknown unicast leaves, incoming frames enter", async () => {
    const outer = new MemorySwitch();
    const inner = new MemorySwitch();
    const remote = outer.port({ mac: "02:00:00:00:00:aa" });
    const uplink = outer.port({ promiscuous: true });
    inner.attach(uplink);
    const local = inner.port({ mac: "02:00:00:00:00:01" });
    const atRemote = collect(remote);
    const atLocal = collect(local);
    local.write(frame(remote.mac, local.mac, [42]));
    await inner.settle();
    await outer.settle();
    assert.equal(atRemote.length, 1);
    assert.equal(atRemote[0]![14], 42);
    remote.write(frame(local.mac, remote.mac, [43]));
    await outer.settle();
    await inner.settle();
    assert.equal(atLocal.length, 1);
    assert.equal(atLocal[0]![14], 43);
  });

  it("uses the MAC it is given, and random locally administered unicast ones otherwise", () => {
    const sw = new MemorySwitch();
    assert.deepEqual([...sw.port({ mac: "02:00:00:00:00:07" }).mac], [2, 0, 0, 0, 0, 7]);
    for (let i = 0; i < 50; i++) {
      const mac = sw.port().mac;
      assert.equal(mac.length, 6);
      assert.equal(mac[0]! & 0x03, 0x02, "locally administered, unicast");
    }
    assert.throws(() => sw.port({ mac: "02:00:00:00:00" }), /not a MAC address/);
  });

  it("rejects frames shorter than a header or longer than mtu + 14", () => {
    const sw = new MemorySwitch({ mtu: 100 });
    const a = sw.port();
    assert.throws(() => a.write(new Uint8Array(13)), (e: unknown) => e instanceof NetError && e.code === "invalid-length");
    assert.throws(() => a.write(new Uint8Array(115)), (e: unknown) => e instanceof NetError && e.code === "invalid-length");
    a.write(new Uint8Array(114));
    assert.equal(a.stats().txPackets, 1);
  });

  it("refuses writes after disconnect and stops delivering to a disconnected port", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    const got = collect(b);
    await b.disconnect();
    a.write(frame(BROADCAST, a.mac));
    await sw.settle();
    assert.equal(got.length, 0);
    assert.equal(sw.size, 1);
    assert.throws(() => b.write(frame(a.mac, b.mac)), (e: unknown) => e instanceof NetError && e.code === "disconnected");
  });

  it("drops and counts writes beyond the queue limit", async () => {
    const sw = new MemorySwitch({ queueLimit: 3 });
    const a = sw.port();
    const b = sw.port();
    const got = collect(b);
    for (let i = 0; i < 5; i++) a.write(frame(b.mac, a.mac));
    await sw.settle();
    assert.equal(got.length, 3);
    assert.equal(a.stats().txPackets, 3);
    assert.equal(a.stats().txDropped, 2);
    assert.equal(sw.stats().queueFull, 2);
  });

  it("counts rx/tx per port, drops frames for a port without listener, and resets", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    a.write(frame(b.mac, a.mac, [], 64));
    await sw.settle();
    assert.deepEqual(b.stats(), { rxBytes: 0, rxPackets: 0, txBytes: 0, txPackets: 0, rxDropped: 1, txDropped: 0 });
    collect(b);
    a.write(frame(b.mac, a.mac, [], 64));
    await sw.settle();
    assert.equal(b.stats().rxPackets, 1);
    assert.equal(b.stats().rxBytes, 64);
    assert.equal(a.stats().txBytes, 128);
    a.resetStats();
    assert.equal(a.stats().txPackets, 0);
  });

  it("survives a throwing listener and keeps delivering", async () => {
    const sw = new MemorySwitch();
    const a = sw.port();
    const b = sw.port();
    let calls = 0;
    b.listen(() => {
      calls++;
      throw new Error("handler bug");
    });
    a.write(frame(b.mac, a.mac));
    a.write(frame(b.mac, a.mac));
    await sw.settle();
    assert.equal(calls, 2);
    assert.equal(sw.stats().handlerErrors, 2);
  });

  it("delivers in microtasks when asked", async () => {
    const sw = new MemorySwitch({ schedule: "microtask" });
    const a = sw.port();
    const b = sw.port();
    const got = collect(b);
    a.write(frame(b.mac, a.mac));
    assert.equal(got.length, 0);
    await Promise.resolve();
    assert.equal(got.length, 1);
  });

  it("matches a model: each port gets exactly the frames addressed to it or to everyone, in order", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }),
        fc.array(fc.record({ from: fc.nat(), to: fc.oneof(fc.nat(), fc.constant("broadcast"), fc.constant("multicast"), fc.constant("unknown")) }), { maxLength: 60 }),
        async (portCount, sends) => {
          const sw = new MemorySwitch();
          const ports = Array.from({ length: portCount }, (_, i) => sw.port({ mac: `02:00:00:00:01:${i.toString(16).padStart(2, "0")}` }));
          const got = ports.map(() => [] as number[]);
          ports.forEach((p, i) => p.listen((f) => got[i]!.push(f[14]! | (f[15]! << 8))));
          const expected = ports.map(() => [] as number[]);
          let unknown = 0;
          sends.forEach(({ from, to }, n) => {
            const src = from % portCount;
            let dst: Uint8Array;
            if (to === "broadcast") dst = new Uint8Array(6).fill(0xff);
            else if (to === "multicast") dst = Uint8Array.of(0x33, 0x33, 0, 0, 0, 1);
            else if (to === "unknown") dst = Uint8Array.of(2, 0xee, 0, 0, 0, 1);
            else dst = ports[to % portCount]!.mac;
            const f = frame(dst, ports[src]!.mac);
            f[14] = n & 0xff;
            f[15] = n >> 8;
            ports[src]!.write(f);
            if (typeof to === "number") {
              if (to % portCount !== src) expected[to % portCount]!.push(n);
            } else if (to === "unknown") unknown++;
            else expected.forEach((e, i) => i !== src && e.push(n));
          });
          await sw.settle();
          assert.deepEqual(got, expected);
          assert.equal(sw.stats().unknownDestination, unknown);
        },
      ),
      { numRuns: 60 },
    );
  });
});
