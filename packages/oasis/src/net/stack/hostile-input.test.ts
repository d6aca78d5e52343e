// Random and mutated frames straight into a stack: nothing may throw inside the layers (a throw
// would show up as a "handler-error" count), and the stack still works afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MemorySwitch } from "../phy/switch.ts";
import { ipv4Stack } from "./direct.ts";
import { writeIpv4Header } from "../wire/ipv4.ts";
import { emitUdpHeader } from "../wire/udp.ts";
import { emitArp } from "../wire/arp.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";
import { parseIpv4Address } from "../wire/address.ts";
import type { Datagram } from "../../devices/udp.ts";

test("random and mutated frames never make a layer throw, and the stack keeps working", async () => {
  const sw = new MemorySwitch();
  const s = ipv4Stack(sw.port({ mac: "02:00:00:00:00:01" }), { cidr: "192.0.2.2/24" });
  const peer = ipv4Stack(sw.port(), { cidr: "192.0.2.3/24" });
  const delivered: Datagram[] = [];
  s.udp.listen(7, (d) => delivered.push(d));
  const me = s.ethernet.mac;
  const src = parseIpv4Address("192.0.2.9")!;
  const dst = parseIpv4Address("192.0.2.2")!;
  // Valid templates to mutate: a UDP datagram, a fragment, an ICMP echo and an ARP request.
  const udp = new Uint8Array(14 + 20 + 8 + 16);
  udp.set(me);
  udp[12] = 0x08;
  writeIpv4Header(udp, 14, src, dst, 17, 64, 1, 0, 24);
  emitUdpHeader(udp, 34, 1000, 7, udp.subarray(42), ipv4PseudoSum(src, dst, 17, 24));
  const frag = udp.slice();
  writeIpv4Header(frag, 14, src, dst, 17, 64, 2, 0x2000, 24);
  const icmp = udp.slice();
  writeIpv4Header(icmp, 14, src, dst, 1, 64, 3, 0, 24);
  icmp[34] = 8;
  const arp = new Uint8Array(14 + 28);
  arp.fill(0xff, 0, 6);
  arp[12] = 0x08;
  arp[13] = 0x06;
  emitArp({ op: 1, senderMac: new Uint8Array([2, 0, 0, 0, 0, 9]), senderIp: src, targetMac: new Uint8Array(6), targetIp: dst }, arp.subarray(14));
  const templates = [udp, frag, icmp, arp];
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ minLength: 0, maxLength: 120 }).map((b) => {
          const f = new Uint8Array(Math.max(14, b.length));
          f.set(b);
          f.set(me);
          if (b.length > 13) f[12] = 0x08;
          return f;
        }),
        fc.tuple(fc.nat(templates.length - 1), fc.array(fc.tuple(fc.nat(80), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(80)).map(([t, edits, cut]) => {
          const f = templates[t]!.slice(0, Math.max(14, templates[t]!.length - (cut % 8 === 0 ? cut % 40 : 0)));
          for (const [at, v] of edits) if (at >= 6 && at < f.length) f[at] = v;
          return f;
        }),
      ),
      (frame) => {
        s.ethernet.input(frame);
      },
    ),
    { numRuns: 5000 },
  );
  assert.equal(s.ethernet.drops.get("handler-error"), 0, JSON.stringify(s.stack.counters()));
  assert.equal(s.ipv4.counters.get("handler-error"), 0);
  const all = s.stack.counters();
  assert.ok(Object.keys(all.ipv4!).length >= 4, `several reasons counted: ${JSON.stringify(all)}`);
  // Still alive and correct.
  const got = new Promise<Datagram>((resolve) => s.udp.listen(8, (d) => resolve({ ...d, data: d.data.slice() })));
  await peer.udp.write("192.0.2.2", 8, new Uint8Array([42]));
  assert.deepEqual([...(await got).data], [42]);
  await s.stack.disconnect();
  await peer.stack.disconnect();
});
