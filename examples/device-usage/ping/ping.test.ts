// The built ping unikernel in a network namespace, with the Linux kernel pinging it: static
// address, a pcap that tshark reads cleanly, and a lease from dnsmasq with --dhcp.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

const skip = netnsUnavailable();

function received(output: string): number {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  assert.ok(m, `no ping summary in:\n${output}`);
  return Number(m[2]);
}

describe("ping example: arguments", () => {
  it("lists --ipv4 and --ipv4-gateway under NETWORK OPTIONS and rejects a bad address with exit code 64", async () => {
    const { bin } = await buildExample("examples/device-usage/ping");
    const help = await runUnikernel(bin, ["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /NETWORK OPTIONS[^]*--ipv4=CIDR[^]*Default: 10\.0\.0\.2\/24[^]*--ipv4-gateway=IP/);
    const bad = await runUnikernel(bin, ["--ipv4=10.0.0.300/24"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /'10\.0\.0\.300\/24' for --ipv4: expected .*like 192\.0\.2\.2\/24/);
  });

  it("a gateway outside the network stops the boot with a message naming the device", { skip }, async () => {
    const { bin } = await buildExample("examples/device-usage/ping");
    await withNetns(
      async (ns) => {
        const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--ipv4-gateway=198.51.100.1"]);
        const done = await u.exited;
        assert.equal(done.code, 1);
        assert.match(u.output(), /ipv4.*198\.51\.100\.1 is not inside 192\.0\.2\.2\/24/);
      },
      { kernelAddress: "192.0.2.1/24" },
    );
  });
});

describe("ping example", { skip }, () => {
  it("answers 20 pings and logs each request; its pcap reads in tshark with nothing malformed", async () => {
    const { bin } = await buildExample("examples/device-usage/ping");
    await withNetns(
      async (ns) => {
        const pcap = join(ns.tmpDir, "ping.pcap");
        const u = ns.run(bin, ["--ipv4=192.0.2.2/24", `--pcap=${pcap}`]);
        await u.waitFor(/answering ping on 192\.0\.2\.2\/24/, 30_000);
        const r = await ns.exec("ping", ["-c", "20", "-i", "0.05", "-W", "2", "192.0.2.2"]);
        assert.equal(received(r.stdout), 20);
        await ns.exec("ping", ["-c", "2", "-s", "8000", "-W", "2", "192.0.2.2"]);
        assert.equal(u.output().match(/echo request from 192\.0\.2\.1: id \d+, seq \d+, 56 bytes/g)?.length, 20);
        await u.stop();
        assert.match(u.output(), /counters: .*icmpv4 .*echo-reply=2\d/, "the exit report counts the replies");
        const t = await ns.exec("tshark", ["-r", pcap, "-n"]);
        assert.match(t.stdout, /Echo \(ping\) reply/);
        assert.match(t.stdout, /ARP.*192\.0\.2\.2 is at/);
        assert.doesNotMatch(t.stdout, /Malformed|malformed/);
        const expert = await ns.exec("tshark", ["-r", pcap, "-n", "-z", "expert,error", "-q"]);
        assert.doesNotMatch(expert.stdout, /Malformed|Bad checksum/i, expert.stdout);
      },
      { kernelAddress: "192.0.2.1/24" },
    );
  });

  it("with --dhcp takes a lease from dnsmasq, answers ping there, and releases it on exit", async () => {
    const { bin } = await buildExample("examples/device-usage/ping", ["--dhcp"]);
    await withNetns(
      async (ns) => {
        const dnsmasq = ns.spawn("dnsmasq", [
          "--no-daemon",
          "--conf-file=/dev/null",
          "--port=0",
          `--interface=${ns.tap}`,
          "--bind-interfaces",
          "--dhcp-range=192.0.2.50,192.0.2.60,255.255.255.0,2m",
          "--dhcp-option=option:router,192.0.2.1",
          `--dhcp-leasefile=${join(ns.tmpDir, "leases")}`,
          "--log-dhcp",
        ]);
        await dnsmasq.waitFor(/DHCP, IP range/, 10_000);
        const pcap = join(ns.tmpDir, "dhcp.pcap");
        const u = ns.run(bin, [`--pcap=${pcap}`]);
        const [, address] = (await u.waitFor(/answering ping on (192\.0\.2\.\d+)\/24/, 30_000)) as RegExpMatchArray;
        assert.match(u.output(), /gateway 192\.0\.2\.1/);
        await dnsmasq.waitFor(new RegExp(`DHCPACK\\(${ns.tap}\\) ${address!.replace(/\./g, "\\.")}`), 5_000);
        const r = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "2", address!]);
        assert.equal(received(r.stdout), 3);
        await u.stop();
        await dnsmasq.waitFor(/DHCPRELEASE/, 5_000);
        // Wireshark's DHCP dissector reads our messages: the whole exchange, nothing malformed.
        const t = await ns.exec("tshark", ["-r", pcap, "-n", "-Y", "dhcp", "-T", "fields", "-e", "dhcp.option.dhcp"]);
        assert.deepEqual(t.stdout.trim().split("\n").slice(0, 4), ["1", "2", "3", "5"], t.stdout);
        assert.equal(t.stdout.trim().split("\n").at(-1), "7");
        const all = await ns.exec("tshark", ["-r", pcap, "-n", "-V"]);
        assert.doesNotMatch(all.stdout, /Malformed|\[Expert Info \(Error/);
      },
      { kernelAddress: "192.0.2.1/24" },
    );
  });

  it("with --dhcp-probe declines an offered address that answers ARP, then binds the next one", async () => {
    const { bin } = await buildExample("examples/device-usage/ping", ["--dhcp"]);
    await withNetns(
      async (ns) => {
        // The kernel holds .50 on another interface (and answers ARP for it on the TAP, as Linux does
        // by default); dnsmasq's own ping check is off: only our ARP probe can notice.
        await ns.exec("ip", ["addr", "add", "192.0.2.50/32", "dev", "lo"]);
        const server = (range: string) =>
          ns.spawn("dnsmasq", [
            "--no-daemon",
            "--conf-file=/dev/null",
            "--port=0",
            `--interface=${ns.tap}`,
            "--bind-interfaces",
            "--no-ping",
            `--dhcp-range=${range},255.255.255.0,2m`,
            `--dhcp-leasefile=${join(ns.tmpDir, "leases")}`,
          ]);
        // First a server whose only address is taken; once declined, one with a free address.
        const first = server("192.0.2.50,192.0.2.50");
        await first.waitFor(/DHCP, IP range/, 10_000);
        const u = ns.run(bin, ["--dhcp-probe"]);
        await first.waitFor(/DHCPDECLINE\(\S+\) 192\.0\.2\.50/, 20_000);
        assert.match(u.output(), /192\.0\.2\.50 is in use by/);
        assert.doesNotMatch(u.output(), /answering ping/);
        await first.stop();
        const second = server("192.0.2.51,192.0.2.51");
        await second.waitFor(/DHCP, IP range/, 10_000);
        // RFC 2131: at least 10 s after a DECLINE before starting over.
        await u.waitFor(/answering ping on 192\.0\.2\.51\/24/, 40_000);
        const r = await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "2", "192.0.2.51"]);
        assert.equal(received(r.stdout), 2);
        await u.stop();
      },
      { kernelAddress: "192.0.2.1/24", timeoutMs: 90_000 },
    );
  });
});
