import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import { netnsUnavailable, withNetns } from "../../../../../test/support/netns.ts";
import { parseArgs, resetArgsForTests, usage } from "../../runtime/args.ts";
import { tapDevice } from "./device.ts";

const fixture = join(import.meta.dirname, "tap-device.fixture.ts");

describe("tapDevice (netif on unix)", () => {
  it("declares --interface (default from config.ts) and --pcap under NETWORK OPTIONS", () => {
    resetArgsForTests();
    tapDevice.declare({ name: "tap0" }, { name: "net", group: "" });
    tapDevice.declare({ name: "tap7" }, { name: "net", group: "dmz" });
    parseArgs([]);
    const help = usage("unikernel");
    const network = help.slice(help.indexOf("NETWORK OPTIONS"));
    assert.match(network, /--interface=NAME\n[\s\S]*Default: "tap0"/);
    assert.match(network, /--dmz-interface=NAME\n[\s\S]*Default: "tap7"/);
    assert.match(network, /--pcap=FILE/);
    assert.match(network, /--dmz-pcap=FILE/);
    resetArgsForTests();
  });

  it("refuses a --pcap file it cannot create before touching any TAP", async () => {
    resetArgsForTests();
    const connect = tapDevice.declare({ name: "tap0" }, { name: "net", group: "" });
    // An interface name openTap would refuse: were the order wrong, that error would show instead.
    parseArgs(["--pcap=/nonexistent-dir/x.pcap", "--interface=not a name"]);
    await assert.rejects(connect({}), /^Error: cannot create pcap file \/nonexistent-dir\/x\.pcap: its directory does not exist$/);
    resetArgsForTests();
  });

  it("attaches to the TAP named at boot and records its traffic with --pcap", { skip: netnsUnavailable() }, () =>
    withNetns(
      async (ns) => {
        const file = join(ns.tmpDir, "boot.pcap");
        const proc = ns.node(fixture, ["--interface=tapQ", `--pcap=${file}`]);
        const [, mac] = (await proc.waitFor(/ready (\S+)/, 30_000))!;
        const ping = await ns.exec("ping", ["-c", "2", "-i", "0.2", "-W", "3", "192.0.2.2"], { check: false });
        assert.equal(ping.code, 0, `${ping.stdout}${ping.stderr}\n${proc.output()}`);
        await proc.stop(5000);
        const r = spawnSync("tshark", ["-r", file, "-n", "-T", "fields", "-e", "eth.src", "-e", "frame.protocols"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const lines = r.stdout.trim().split("\n");
        assert.ok(lines.some((l) => l === `${mac}\teth:ethertype:arp`), r.stdout);
        assert.equal(lines.filter((l) => l.startsWith(`${mac}\t`) && l.endsWith("icmp:data")).length, 2, r.stdout);
        assert.match(proc.output(), /tapQ: attached, MAC/);
      },
      { tap: "tapQ" },
    ));
});
