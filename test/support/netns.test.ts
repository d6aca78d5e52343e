import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, it } from "node:test";
import { netemUnavailable, netnsUnavailable, withNetns, type Netns } from "./netns.ts";

const skip = netnsUnavailable();

function namespaceExists(name: string): boolean {
  return existsSync(`/var/run/netns/${name}`);
}

describe("withNetns", { skip }, () => {
  it("creates a namespace with loopback up and the TAP addressed and up, then removes it", async () => {
    let seen = "";
    await withNetns(
      async (ns) => {
        seen = ns.name;
        assert.match(ns.name, /^oasis-\d+-[0-9a-f]{8}$/);
        assert.ok(namespaceExists(ns.name));
        const addr = await ns.exec("ip", ["-o", "addr", "show", "dev", "tapT"]);
        assert.match(addr.stdout, /inet 198\.51\.100\.1\/24/);
        const link = await ns.exec("ip", ["-o", "link", "show", "dev", "tapT"]);
        assert.match(link.stdout, /UP/);
        const lo = await ns.exec("ping", ["-c", "1", "-W", "2", "127.0.0.1"]);
        assert.equal(lo.code, 0);
        const routes = await ns.exec("ip", ["route", "show"]);
        assert.doesNotMatch(routes.stdout, /default/);
        assert.match(await ns.kernelMac(), /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
        assert.equal(ns.kernelIp, "198.51.100.1");
      },
      { kernelAddress: "198.51.100.1/24", tap: "tapT" },
    );
    assert.ok(seen && !namespaceExists(seen));
  });

  it("cleans up processes and the namespace when the body throws", async () => {
    let ns: Netns | undefined;
    let pid = -1;
    await assert.rejects(
      withNetns(async (n) => {
        ns = n;
        const p = n.spawn("sleep", ["300"]);
        pid = p.pid;
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.ok(!namespaceExists(ns!.name));
    assert.throws(() => process.kill(pid, 0), "the spawned process is gone");
  });

  it("gives up after the timeout and still cleans up", async () => {
    let name = "";
    await assert.rejects(
      withNetns(
        async (ns) => {
          name = ns.name;
          await new Promise((r) => setTimeout(r, 60_000).unref());
        },
        { timeoutMs: 300 },
      ),
      /did not finish within 300 ms/,
    );
    assert.ok(!namespaceExists(name));
  });

  it("exec reports a failing command with its output, unless check is off", async () => {
    await withNetns(async (ns) => {
      await assert.rejects(ns.exec("ip", ["link", "show", "dev", "nope0"]), /exited with 1[\s\S]*nope0/);
      const r = await ns.exec("ip", ["link", "show", "dev", "nope0"], { check: false });
      assert.notEqual(r.code, 0);
      assert.equal((await ns.exec("cat", [], { input: "hello" })).stdout, "hello");
    });
  });

  it("spawned processes run inside the namespace and can be waited for", async () => {
    await withNetns(async (ns) => {
      const p = ns.spawn("ip", ["-o", "link"]);
      await p.waitFor(/tap0/);
      assert.equal((await p.exited).code, 0);
      const hostLinks = spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout;
      assert.notEqual(p.output(), hostLinks);
    });
  });

  it("adds a netem qdisc on the kernel side, or says clearly that the kernel has none", async () => {
    await withNetns(async (ns) => {
      if (netemUnavailable()) {
        await assert.rejects(ns.netem({ delayMs: 30 }), /no netem qdisc/);
        return;
      }
      await ns.netem({ delayMs: 30, lossPercent: 1 });
      const q = await ns.exec("tc", ["qdisc", "show", "dev", "tap0"]);
      assert.match(q.stdout, /netem .*delay 30ms.*loss 1%/);
    });
  });

  it("rate-limits the kernel side with a tbf qdisc", async () => {
    await withNetns(async (ns) => {
      await ns.rateLimit("10mbit");
      const q = await ns.exec("tc", ["qdisc", "show", "dev", "tap0"]);
      assert.match(q.stdout, /tbf .*rate 10Mbit/);
    });
  });

  it("disables IPv6 on the TAP unless an IPv6 address is asked for", async () => {
    await withNetns(async (ns) => {
      const r = await ns.exec("sysctl", ["-n", "net.ipv6.conf.tap0.disable_ipv6"]);
      assert.equal(r.stdout.trim(), "1");
    });
    await withNetns(
      async (ns) => {
        const addr = await ns.exec("ip", ["-o", "addr", "show", "dev", "tap0"]);
        assert.match(addr.stdout, /inet6 2001:db8::1\/64/);
      },
      { kernelAddress: ["192.0.2.1/24", "2001:db8::1/64"] },
    );
  });
});
