// End to end: a unikernel using netif() is configured and built into one executable, which runs
// inside a namespace with only node, loads the TAP addon embedded in it, and answers the kernel.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { netnsUnavailable, withNetns } from "../../../../../test/support/netns.ts";
import { buildExample } from "../../../../../test/support/unikernel.ts";

describe("a sealed unikernel with a TAP", { skip: netnsUnavailable() }, () => {
  it("boots in a namespace, answers ping through the embedded addon, records --pcap and traces frames", async () => {
    const { bin } = await buildExample("packages/oasis/src/net/phy/fixtures/tap-responder");
    await withNetns(
      async (ns) => {
        // Alone in an empty folder: nothing of the repository next to it.
        const alone = join(ns.tmpDir, "tap-responder");
        copyFileSync(bin, alone);
        const pcap = join(ns.tmpDir, "run.pcap");
        const u = ns.run(alone, ["--interface=tapS", `--pcap=${pcap}`, "--address=198.51.100.2", "--logs=*:info,net.trace:debug"], { cwd: ns.tmpDir });
        await u.waitFor(/answering for 198\.51\.100\.2/, 30_000);
        const ping = await ns.exec("ping", ["-c", "3", "-i", "0.2", "-W", "3", "198.51.100.2"], { check: false });
        assert.equal(ping.code, 0, `${ping.stdout}${ping.stderr}\n--- unikernel ---\n${u.output()}`);
        assert.match(u.output(), /tapS: attached, MAC/);
        assert.match(u.output(), /DBG \[net\.trace\] tapS rx 42B \S+ > ff:ff:ff:ff:ff:ff ARP who-has 198\.51\.100\.2/);
        assert.match(u.output(), /DBG \[net\.trace\] tapS tx 42B .* ARP 198\.51\.100\.2 is-at /);
        assert.match(u.output(), /DBG \[net\.trace\] tapS tx 98B .* IPv4 198\.51\.100\.2 > 198\.51\.100\.1 ICMP/);
        await u.stop(5000);
        const r = spawnSync("tshark", ["-r", pcap, "-n", "-Y", "icmp.type == 0"], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim().split("\n").length, 3, r.stdout);
      },
      { tap: "tapS", kernelAddress: "198.51.100.1/24" },
    );
  });
});
