// The built udp-echo unikernel: on host sockets (loopback), and on Oasis's own stack in a
// network namespace where the kernel's UDP sockets and socat are the peers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { join } from "node:path";
import { readFileSync, writeFileSync } from "node:fs";
import { buildExample, runCommand, startUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

const client = join(import.meta.dirname, "udp-client.mjs");

describe("udp-echo example", () => {
  it("echoes on the socket stack: socat gets its line back, 2 000 datagrams round-trip", async () => {
    const { bin } = await buildExample("examples/applications/udp-echo");
    const port = 20000 + Math.floor(Math.random() * 20000);
    const u = startUnikernel(bin, [`--port=${port}`]);
    try {
      await u.waitFor(/echoing UDP on port \d+/, 30_000);
      const s = await runCommand("socat", ["-t", "2", "-", `UDP:127.0.0.1:${port}`], { input: "hello\n", timeoutMs: 10_000 });
      assert.equal(s.stdout, "hello\n");
      const r = await runCommand(process.execPath, [client, "127.0.0.1", String(port), "2000"], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    } finally {
      await u.stop();
    }
  });

  it("echoes 10 000 datagrams from socat and 10 000 from kernel sockets on the direct stack, none lost or altered", { skip: netnsUnavailable() }, async () => {
    const { bin } = await buildExample("examples/applications/udp-echo", ["--net=direct"]);
    await withNetns(
      async (ns) => {
        const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=7"]);
        await u.waitFor(/echoing UDP on port 7/, 30_000);
        // socat: 10 000 numbered 100-byte datagrams (it reads its input file 100 bytes at a time),
        // everything echoed written to a file. UDP has no flow control, so the kernel's queue into
        // the TAP and socat's receive buffer are made deep enough for the whole burst; any loss
        // would then be ours.
        await ns.exec("ip", ["link", "set", ns.tap, "txqueuelen", "20000"]);
        const input = Buffer.alloc(10_000 * 100);
        for (let i = 0; i < 10_000; i++) input.write(`datagram ${i} `.padEnd(100, String.fromCharCode(97 + (i % 26))), i * 100);
        writeFileSync(join(ns.tmpDir, "in.bin"), input);
        await ns.exec("sh", ["-c", `socat -b 100 -t 3 - UDP:192.0.2.2:7,rcvbuf=4194304 < ${ns.tmpDir}/in.bin > ${ns.tmpDir}/out.bin`], { timeoutMs: 60_000 });
        const echoed = readFileSync(join(ns.tmpDir, "out.bin"));
        const where = async () => `${(await ns.exec("ip", ["-s", "link", "show", ns.tap])).stdout}${(await ns.exec("grep", ["^Udp:", "/proc/net/snmp"])).stdout}`;
        assert.equal(echoed.length, input.length, `socat got ${echoed.length / 100} of 10000 datagrams back\n${await where()}`);
        // UDP keeps no order, and the kernel may reorder what we write into the TAP (frames land in
        // the backlog of whichever CPU the writer ran on), so compare the datagrams as a set.
        const datagrams = (b: Buffer) => Array.from({ length: b.length / 100 }, (_, i) => b.subarray(i * 100, i * 100 + 100).toString("latin1")).sort();
        assert.deepEqual(datagrams(echoed), datagrams(input), "every datagram came back once and unaltered");
        const c = ns.spawn(process.execPath, [client, "192.0.2.2", "7", "10000"]);
        const done = await c.exited;
        assert.equal(done.code, 0, c.output());
        assert.deepEqual(JSON.parse(c.output().trim()), { sent: 10000, got: 10000, bad: 0, missing: 0 });
        const closed = await ns.exec("socat", ["-t", "1", "-", "UDP:192.0.2.2:8"], { input: "x\n", check: false });
        assert.match(closed.stderr, /Connection refused/);
        await u.stop();
      },
      { kernelAddress: "192.0.2.1/24" },
    );
  });
});
