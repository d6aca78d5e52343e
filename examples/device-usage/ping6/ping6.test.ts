// The built ping6 unikernel in a network namespace, with the Linux kernel pinging it over IPv6:
// static address, link-local, fragmented pings, a pcap tshark reads cleanly, and SLAAC from radvd.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

const skip = netnsUnavailable();
const noRadvd = spawnSync("radvd", ["--version"]).error ? "radvd is not installed; run .ci/setup-debian.sh" : undefined;

function received(output: string): number {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  assert.ok(m, `no ping summary in:\n${output}`);
  return Number(m[2]);
}

// One build for every test: the example is configured the same way each time.
let built: Promise<{ bin: string }> | undefined;
const build = () => (built ??= buildExample("examples/device-usage/ping6"));

describe("ping6 example: arguments", () => {
  it("lists the IPv6 options under NETWORK OPTIONS and rejects a bad --ipv6 with exit code 64", async () => {
    const { bin } = await build();
    const help = await runUnikernel(bin, ["--help"]);
    assert.equal(help.code, 0);
    const network = help.stdout.slice(help.stdout.indexOf("NETWORK OPTIONS"));
    assert.match(network, /--ipv6=CIDR[^]*Default: fd00::2\/64[^]*--ipv6-gateway=IP/);
    assert.match(network, /--accept-router-advertisements\s+Solicit and accept router advertisements[^]*Default: true/);
    const bad = await runUnikernel(bin, ["--ipv6=fd00::g/64"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /'fd00::g\/64' for --ipv6: expected .*like 2001:db8::2\/64/);
    const badSecret = await runUnikernel(bin, ["--ipv6-interface-id=stable", "--ipv6-secret=1234"]);
    assert.equal(badSecret.code, 64);
    assert.match(badSecret.stderr, /--ipv6-secret: expected 32 hexadecimal digits/);
  });
});

describe("ping6 example: configuration errors at boot", { skip }, () => {
  it("a gateway off the link stops the boot with exit code 1 and a message naming the device", async () => {
    const { bin } = await build();
    await withNetns(
      async (ns) => {
        const u = ns.run(bin, ["--ipv6=2001:db8::2/64", "--ipv6-gateway=2001:db9::1"]);
        const done = await u.exited;
        assert.equal(done.code, 1);
        assert.match(u.output(), /ipv6.*2001:db9::1 is neither link-local nor inside 2001:db8::2\/64/);
      },
      { kernelAddress: "2001:db8::1/64" },
    );
  });
});

describe("ping6 example", { skip }, () => {
  it("answers ping -6 on its static and link-local addresses, fragmented too, logs each request; tshark finds nothing malformed", async () => {
    const { bin } = await build();
    await withNetns(
      async (ns) => {
        const pcap = join(ns.tmpDir, "ping6.pcap");
        const u = ns.run(bin, ["--ipv6=2001:db8::2/64", "--ipv4=192.0.2.2/24", `--pcap=${pcap}`]);
        const [, addresses] = (await u.waitFor(/answering ping6 on (.*)/, 30_000)) as RegExpMatchArray;
        const linkLocal = /fe80::[0-9a-f:]+/.exec(addresses!)?.[0];
        assert.ok(linkLocal && addresses!.includes("2001:db8::2/64"), addresses);
        const r = await ns.exec("ping", ["-6", "-c", "10", "-i", "0.05", "-W", "2", "2001:db8::2"]);
        assert.equal(received(r.stdout), 10);
        const big = await ns.exec("ping", ["-6", "-c", "2", "-i", "0.2", "-s", "3000", "-W", "2", "2001:db8::2"]);
        assert.equal(received(big.stdout), 2);
        const ll = await ns.exec("ping", ["-6", "-c", "2", "-i", "0.2", "-W", "2", `${linkLocal}%${ns.tap}`]);
        assert.equal(received(ll.stdout), 2);
        assert.equal(u.output().match(/echo request from 2001:db8::1 to 2001:db8::2: id \d+, seq \d+, 56 bytes/g)?.length, 10);
        assert.match(u.output(), /echo request from fe80::[0-9a-f:]+ to fe80::[0-9a-f:]+: id \d+, seq \d+, 56 bytes/);
        await u.stop();
        assert.match(u.output(), /counters: .*ipv6 [^;]*echo-reply=14/, "the stack's exit report counts the replies");
        const t = await ns.exec("tshark", ["-r", pcap, "-n"]);
        assert.match(t.stdout, /Echo \(ping\) reply/);
        assert.match(t.stdout, /Neighbor Advertisement 2001:db8::2 \(sol, ovr\) is at/);
        assert.match(t.stdout, /Neighbor Solicitation for fe80::[0-9a-f:]+\s*$/m, "our DAD probes");
        assert.match(t.stdout, /ff02::16\s+ICMPv6\s+\d+\s+Multicast Listener Report Message v2/, "our MLDv2 reports");
        const expert = await ns.exec("tshark", ["-r", pcap, "-n", "-z", "expert,error", "-q"]);
        assert.doesNotMatch(expert.stdout, /Malformed|Bad checksum/i, expert.stdout);
      },
      { kernelAddress: ["2001:db8::1/64", "192.0.2.1/24"] },
    );
  });

  it("with --ipv6-interface-id=stable and a secret, keeps the same opaque link-local address across restarts", async () => {
    const { bin } = await build();
    await withNetns(
      async (ns) => {
        const args = ["--ipv6=2001:db8::2/64", "--ipv4=192.0.2.2/24", "--ipv6-interface-id=stable", "--ipv6-secret=000102030405060708090a0b0c0d0e0f"];
        const linkLocal = async () => {
          const u = ns.run(bin, args);
          const [, addresses] = (await u.waitFor(/answering ping6 on (.*)/, 30_000)) as RegExpMatchArray;
          const ll = /fe80::[0-9a-f:]+/.exec(addresses!)![0];
          const r = await ns.exec("ping", ["-6", "-c", "1", "-W", "2", `${ll}%${ns.tap}`]);
          assert.equal(received(r.stdout), 1);
          await u.stop();
          return ll;
        };
        const first = await linkLocal();
        assert.equal(await linkLocal(), first);
        assert.doesNotMatch(first, /ff:fe/, "not derived from the MAC");
      },
      { kernelAddress: ["2001:db8::1/64", "192.0.2.1/24"] },
    );
  });

  it("takes a SLAAC address from radvd and answers ping there", { skip: noRadvd }, async () => {
    const { bin } = await build();
    await withNetns(
      async (ns) => {
        const conf = join(ns.tmpDir, "radvd.conf");
        writeFileSync(conf, `interface ${ns.tap} { AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4; prefix 2001:db8:1::/64 { AdvOnLink on; AdvAutonomous on; }; };\n`);
        await ns.exec("sysctl", ["-q", "-w", "net.ipv6.conf.all.forwarding=1"]);
        await ns.exec("ip", ["-6", "addr", "add", "2001:db8:1::1/64", "dev", ns.tap, "nodad"]);
        const u = ns.run(bin, ["--ipv6=2001:db8::2/64", "--ipv4=192.0.2.2/24", "-l", "ipv6:info"]);
        await u.waitFor(/answering ping6 on/, 30_000);
        const radvd = ns.spawn("radvd", ["-n", "-m", "stderr", "-C", conf, "-p", join(ns.tmpDir, "radvd.pid"), "-u", "root"]);
        const [, slaac] = (await u.waitFor(/address (2001:db8:1:[0-9a-f:]+)\/64 \(slaac\) is ready/, 30_000)) as RegExpMatchArray;
        const r = await ns.exec("ping", ["-6", "-c", "3", "-i", "0.2", "-W", "2", slaac!]);
        assert.equal(received(r.stdout), 3);
        assert.match(u.output(), /default router fe80::/);
        await radvd.stop();
        await u.stop();
      },
      { kernelAddress: ["2001:db8::1/64", "192.0.2.1/24"], timeoutMs: 90_000 },
    );
  });
});
