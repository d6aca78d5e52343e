// The ttl option of Udp.write reaches the wire: tshark on a namespace's TAP reads the IP headers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { netnsUnavailable, withNetns } from "../../../../../test/support/netns.ts";

test("UDP writes carry the requested TTL, and the default (64) otherwise (checked with tshark)", { skip: netnsUnavailable() }, async () => {
  await withNetns(
    async (ns) => {
      // The TAP needs a reader to have carrier, and the peer a neighbour entry (nobody answers ARP).
      const tap = ns.openTap();
      await ns.exec("ip", ["neigh", "replace", "192.0.2.9", "lladdr", "02:00:00:00:00:09", "dev", ns.tap]);
      const capture = await ns.capture({ filter: "udp" });
      const sender = ns.node(join(import.meta.dirname, "udp-send.fixture.ts"));
      await sender.waitFor(/sent/, 30_000);
      const text = await capture.stop(["-T", "fields", "-e", "udp.dstport", "-e", "ip.ttl"]);
      const rows = text.trim().split("\n").map((l) => l.trim().split(/\s+/));
      assert.ok(rows.some(([port, ttl]) => port === "9999" && ttl === "7"), `captured: ${JSON.stringify(text)}\n${sender.output()}`);
      assert.ok(rows.some(([port, ttl]) => port === "9998" && ttl === "64"), text);
      assert.ok(!rows.some(([port, ttl]) => port === "9999" && ttl !== "7"), text);
      await tap.disconnect();
    },
    { kernelAddress: "192.0.2.1/24" },
  );
});
