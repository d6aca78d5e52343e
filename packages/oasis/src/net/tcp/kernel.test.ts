// TCP against the Linux kernel stack in a network namespace (socat, curl-free raw tools, python).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { addRoutedPeer, netnsUnavailable, withNetns, type Netns } from "../../../../../test/support/netns.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { withFaults, withPcap } from "oasis/net/phy";
import { execFileSync, spawnSync } from "node:child_process";
import { FlowError } from "../../devices/errors.ts";
import type { Net } from "../../devices/net.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { createTcp, type TcpConfig, type TcpStack } from "./index.ts";
import { pattern, tallyOffloads } from "./test-support.ts";

const skip = netnsUnavailable();
const noNft = spawnSync("nft", ["--version"]).error ? "nft is not installed; run .ci/setup-debian.sh" : undefined;
const OURS = "192.0.2.2";
const KERNEL = "192.0.2.1";

function sha(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Echoes every connection on `port`, hashing what it receives; resolves the totals on demand. */
function hashingEcho(tcp: ReturnType<typeof tcpOver>, port: number): () => { bytes: number; sha256: string } {
  let bytes = 0;
  const hash = createHash("sha256");
  tcp.listen(port, async (flow: TcpFlow) => {
    for (let c = await flow.read(); c !== null; c = await flow.read()) {
      bytes += c.length;
      hash.update(c);
      await flow.write(c);
    }
    await flow.close();
  });
  return () => ({ bytes, sha256: hash.digest("hex") });
}

/** socat in the namespace sends `size` random bytes to the echo and reads them back: the sha256 of both. */
async function socatRoundTrip(ns: Netns, port: number, size: number): Promise<{ sent: string; echoed: string }> {
  const r = await ns.exec(
    "sh",
    ["-c", `f=$(mktemp); g=$(mktemp); head -c ${size} /dev/urandom > $f; socat -t 30 -T 60 STDIO TCP:192.0.2.2:${port} > $g < $f; sha256sum < $f; sha256sum < $g; rm -f $f $g`],
    { timeoutMs: 100_000 },
  );
  const [sent, echoed] = r.stdout.trim().split("\n").map((l) => l.split(" ")[0]!);
  return { sent: sent!, echoed: echoed! };
}

test("receives 4 MB byte-exact from the kernel (socat) and sends it back", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const tcp = tcpOver(tap);
      const received = hashingEcho(tcp, 8080);
      const { sent, echoed } = await socatRoundTrip(ns, 8080, 4_000_000);
      assert.deepEqual(received(), { bytes: 4_000_000, sha256: sent });
      assert.equal(echoed, sent);
      await waitEmpty(tcp);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("with TAP offloads: 8 MB each way byte-exact in merged frames of up to 64 KB, every checksum valid in a pcap", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap({ offload: true });
      assert.ok(tap.offload?.segmentation && tap.offload.checksum, "the kernel accepted the offloads");
      const file = `${ns.tmpDir}/offload.pcap`;
      const { net, tally } = tallyOffloads(withPcap(tap, file));
      const tcp = tcpOver(net);
      const received = hashingEcho(tcp, 8080);
      const { sent, echoed } = await socatRoundTrip(ns, 8080, 8_000_000);
      assert.deepEqual(received(), { bytes: 8_000_000, sha256: sent });
      assert.equal(echoed, sent);
      // Both directions really used the offloads: frames beyond the MTU each way.
      assert.ok(tally.rxMerged > 0 && tally.rxLargest > 1514, `merged frames from the kernel: ${JSON.stringify(tally)}`);
      assert.ok(tally.rxChecksumOk > 0, `checksums vouched for by the kernel: ${JSON.stringify(tally)}`);
      assert.ok(tally.txSegmented > 0 && tally.txLargest > 1514, `segmentation requests to the kernel: ${JSON.stringify(tally)}`);
      assert.equal(tally.txPartial, tally.txTcp - tcp.stats().resetsSent, "every TCP segment but RSTs left its checksum to the device");
      await waitEmpty(tcp);
      await net.disconnect();
      // The kernel trusts offloaded checksums without summing them, so check them here: the pcap
      // holds our frames with the partial checksum finished as the device would, and the
      // kernel's with the checksum the addon finished.
      const bad = execFileSync("tshark", ["-r", file, "-n", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-Y", "tcp.checksum.status == 0 || ip.checksum.status == 0 || _ws.malformed"], { encoding: "utf8", maxBuffer: 64 << 20 });
      assert.equal(bad.trim(), "", "no bad checksums or malformed frames either way");
      const big = execFileSync("tshark", ["-r", file, "-n", "-Y", "frame.len > 1514", "-T", "fields", "-e", "frame.len"], { encoding: "utf8", maxBuffer: 64 << 20 });
      assert.ok(big.trim().split("\n").length >= tally.rxMerged, "the merged frames are in the capture");
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("the kernel's ICMP reaches TCP: a port rejected with port-unreachable refuses the connection at once", { skip: skip ?? noNft, timeout: 60_000 }, () =>
  withNetns(
    async (ns) => {
      await ns.exec("sh", ["-c", "nft add table ip t && nft add chain ip t input '{ type filter hook input priority 0; }' && nft add rule ip t input tcp dport 9999 reject with icmp type port-unreachable"]);
      const tap = ns.openTap();
      const tcp = tcpOver(tap);
      const started = Date.now();
      await assert.rejects(tcp.connect(KERNEL, 9999), (e: FlowError) => e instanceof FlowError && e.code === "refused" && e.message.includes(`${KERNEL} answered with ICMP port-unreachable`));
      assert.ok(Date.now() - started < 900, "refused before any SYN retransmission");
      assert.equal(tcp.stats().icmpErrors, 1);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 50_000 },
  ),
);

for (const offload of [false, true]) {
  test(`path MTU discovery through a kernel router with a 1280-byte link: its "fragmentation needed" shrinks our MSS and 2 MB arrive intact${offload ? " (TAP offloads)" : ""}`, { skip, timeout: 90_000 }, () =>
    withNetns(
      async (ns) => {
        // A host behind the kernel, which routes to it over a 1280-byte link (addRoutedPeer).
        const far = await addRoutedPeer(ns, { routerMtu: 1280 });
        try {
          const sink = ns.spawn("ip", ["netns", "exec", far.name, "sh", "-c", "socat -u TCP-LISTEN:9001,reuseaddr - | sha256sum"]);
          const tap = ns.openTap({ offload });
          let tcp: TcpStack | null = null;
          ipv4Stack(tap, { cidr: `${OURS}/24`, gateway: KERNEL, tcp: (ip) => (tcp = createTcp(ip)) });
          const data = pattern(2_000_000, 5);
          let flow: TcpFlow | undefined;
          for (let i = 0; flow === undefined; i++) {
            try {
              flow = await tcp!.connect(far.ipv4, 9001);
            } catch (e) {
              if (i >= 50) throw e;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
          await flow.write(data);
          await flow.close();
          await sink.waitFor(new RegExp(sha(data)), 30_000);
          const s = tcp!.stats();
          assert.ok(s.pathMtuReductions >= 1 && s.icmpErrors >= 1, JSON.stringify(s));
          // Everything after the report went in segments that fit: 1280 - 40 bytes of headers - 12 of timestamps.
          assert.ok(s.segmentsOut >= Math.ceil(data.length / 1228), `${s.segmentsOut} segments`);
          await sink.stop();
          await tap.disconnect();
        } finally {
          far.remove();
        }
      },
      { kernelAddress: `${KERNEL}/24`, timeoutMs: 80_000 },
    ),
  );
}

test("exchanges 4 MB byte-exact with the kernel through loss, reordering, duplication and corruption", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const faulty = withFaults(tap, { seed: 5, loss: 0.03, reorder: 0.03, duplicate: 0.01, corrupt: 0.005 });
      const tcp = tcpOver(faulty);
      const received = hashingEcho(tcp, 8080);
      const { sent, echoed } = await socatRoundTrip(ns, 8080, 4_000_000);
      assert.equal(received().sha256, sent);
      assert.equal(echoed, sent);
      const s = tcp.stats();
      assert.ok(s.retransmits > 0 && (s.drops["bad-checksum"] ?? 0) > 0, JSON.stringify(s));
      assert.ok(s.fastRecoveries > 0, "our losses were repaired by SACK recovery");
      // The kernel repaired its losses from our SACK blocks.
      const nstat = (await ns.exec("nstat", ["-az", "TcpExtTCPSackRecovery", "TcpExtTCPSACKReneging"])).stdout;
      const kernelSackRecoveries = Number(/TcpExtTCPSackRecovery\s+(\d+)/.exec(nstat)?.[1] ?? 0);
      assert.ok(kernelSackRecoveries > 0, nstat);
      assert.match(nstat, /TcpExtTCPSACKReneging\s+0\b/);
      await waitEmpty(tcp);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("serves curl a 1 MB response with options and checksums that tshark decodes as valid", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const tcp = tcpOver(tap);
      const body = pattern(1_000_000, 3);
      tcp.listen(8081, async (flow: TcpFlow) => {
        let req = "";
        while (!req.includes("\r\n\r\n")) {
          const c = await flow.read();
          if (c === null) return flow.close();
          req += new TextDecoder().decode(c);
        }
        await flow.write(new TextEncoder().encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`));
        await flow.write(body);
        await flow.close();
      });
      const capture = await ns.capture({ filter: "tcp port 8081" });
      const r = await ns.exec("sh", ["-c", "curl -sS --max-time 30 http://192.0.2.2:8081/ | sha256sum"]);
      assert.equal(r.stdout.split(" ")[0], sha(body));
      const synAck = await capture.stop([
        "-Y",
        "tcp.srcport == 8081 && tcp.flags.syn == 1",
        "-T",
        "fields",
        "-e",
        "tcp.options.mss_val",
        "-e",
        "tcp.options.wscale.shift",
        "-e",
        "tcp.options.sack_perm",
        "-e",
        "tcp.options.timestamp.tsval",
      ]);
      const [mss, shift, sackPerm, tsval] = synAck.trim().split("\t");
      assert.equal(mss, "1460");
      assert.ok(Number(shift) > 0, `window scale ${shift}`);
      assert.ok(sackPerm !== undefined && sackPerm !== "", "SACK permitted");
      assert.ok(Number(tsval) > 0, "timestamp");
      const { execFileSync } = await import("node:child_process");
      const bad = execFileSync("tshark", ["-r", capture.file, "-n", "-o", "tcp.check_checksum:TRUE", "-Y", "tcp.srcport == 8081 && (tcp.checksum.status == 0 || _ws.malformed)"], { encoding: "utf8" });
      assert.equal(bad.trim(), "", "no bad checksums or malformed segments from Oasis");
      const ours = execFileSync("tshark", ["-r", capture.file, "-n", "-Y", "tcp.srcport == 8081 && tcp.len > 0"], { encoding: "utf8" });
      assert.ok(ours.trim().split("\n").length > 600, "the response went out in full-sized segments");
      await waitEmpty(tcp);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("reads slowly from a fast kernel sender: the window closes and reopens, nothing is lost", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const tcp = tcpOver(tap, { receiveBufferSize: 64 * 1024 });
      const hash = createHash("sha256");
      let received = 0;
      tcp.listen(8082, async (flow: TcpFlow) => {
        for (let i = 0; ; i++) {
          // The first reads are slow: the kernel fills our 64 KiB window and has to wait.
          if (i < 30) await new Promise((r) => setTimeout(r, 20));
          const c = await flow.read();
          if (c === null) break;
          received += c.length;
          hash.update(c);
        }
        await flow.close();
      });
      const r = await ns.exec("sh", ["-c", "f=$(mktemp); head -c 3000000 /dev/urandom > $f; socat -u FILE:$f TCP:192.0.2.2:8082; sha256sum < $f; rm -f $f"], { timeoutMs: 100_000 });
      await waitEmpty(tcp);
      assert.equal(received, 3_000_000);
      assert.equal(hash.digest("hex"), r.stdout.split(" ")[0]);
      const s = tcp.stats();
      assert.ok(s.zeroWindowsSent > 0, "the window closed");
      assert.ok(s.windowUpdates > 0, "and reopened with window updates");
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("sends 4 MB byte-exact to a kernel receiver that reads slowly", { skip, timeout: 120_000 }, () =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const tcp = tcpOver(tap);
      // A small receive buffer and a reader pausing between reads: the window closes and reopens.
      const reader = ns.spawn("python3", [
        "-c",
        [
          "import socket,hashlib,time",
          "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)",
          "s.setsockopt(socket.SOL_SOCKET,socket.SO_RCVBUF,8192)",
          "s.bind(('192.0.2.1',9000)); s.listen(1); print('ready',flush=True)",
          "c,_=s.accept(); h=hashlib.sha256(); n=0; i=0",
          "while True:",
          "  d=c.recv(65536)",
          "  if not d: break",
          "  h.update(d); n+=len(d); i+=1",
          "  if i<40: time.sleep(0.02)",
          "print('got',n,h.hexdigest(),flush=True)",
        ].join("\n"),
      ]);
      await reader.waitFor(/ready/);
      const data = pattern(4_000_000, 99);
      const flow = await tcp.connect(KERNEL, 9000);
      await flow.write(data);
      await flow.close();
      const m = await reader.waitFor(/got (\d+) ([0-9a-f]+)/, 60_000);
      assert.equal(Number(m[1]), data.length);
      assert.equal(m[2], sha(data));
      await waitEmpty(tcp);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("serves 10 000 kernel connections closed by FIN from either side, RST and simultaneous close, leaving the table empty, with a flat heap", { skip, timeout: 300_000 }, (t) =>
  withNetns(
    async (ns) => {
      const tap = ns.openTap();
      const tcp = tcpOver(tap, { mslMs: 100 });
      let served = 0;
      tcp.listen(
        7,
        async (flow: TcpFlow) => {
          const req = await flow.read().catch(() => null);
          if (req === null) return flow.close();
          await flow.write(req).catch(() => {});
          // Mode 0: we close first. 1: the kernel resets. 2: the kernel closes first.
          if (req[0] === 0x30) await flow.close();
          else {
            await flow.read().catch(() => null);
            await flow.close().catch(() => {});
          }
          served++;
        },
        { backlog: 1024 },
      );
      // Mode 3, on port 8: both ends close as soon as the connection is up, so FINs cross.
      tcp.listen(8, (flow: TcpFlow) => flow.close(), { backlog: 1024 });
      const count = Number(process.env.OASIS_TCP_KERNEL_CONNECTIONS ?? 10_000);
      // Two rounds of count/2; the heap after a forced GC once the table has drained must not grow
      // from the first round to the second (a leak of a few hundred bytes per connection would).
      const round = (first: number, n: number) => ns.exec(
        "python3",
        [
          "-c",
          [
            "import asyncio,socket,struct,sys",
            `FIRST=${first}; N=${n}`,
            "async def one(i):",
            "  mode=i%4",
            "  if mode==3:",
            "    r,w=await asyncio.open_connection('192.0.2.2',8)",
            "    w.close(); await w.wait_closed(); return",
            "  r,w=await asyncio.open_connection('192.0.2.2',7)",
            "  w.write(str(mode).encode()+b'x'*10); await w.drain()",
            "  d=await r.readexactly(11)",
            "  s=w.get_extra_info('socket')",
            "  if mode==0:",
            "    assert await r.read()==b''",
            "    w.close()",
            "  elif mode==1:",
            "    s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0)); w.close()",
            "  else:",
            "    w.close()",
            "  await w.wait_closed()",
            "async def main():",
            "  sem=asyncio.Semaphore(64); ok=0",
            "  async def run(i):",
            "    nonlocal ok",
            "    async with sem:",
            "      await one(i); ok+=1",
            "  await asyncio.gather(*(run(i) for i in range(FIRST,FIRST+N)))",
            "  print('done',ok)",
            "asyncio.run(main())",
          ].join("\n"),
        ],
        { timeoutMs: 120_000 },
      );
      const half = Math.floor(count / 2);
      assert.match((await round(0, half)).stdout, new RegExp(`done ${half}\\b`));
      await waitEmpty(tcp, 20_000);
      const heapAfterFirst = await settledHeap();
      assert.match((await round(half, count - half)).stdout, new RegExp(`done ${count - half}\\b`));
      await waitEmpty(tcp, 20_000);
      const heapAfterSecond = await settledHeap();
      const growth = heapAfterSecond - heapAfterFirst;
      t.diagnostic(`heap after GC: ${(heapAfterFirst / 1e6).toFixed(2)} MB after ${half} connections, ${(heapAfterSecond / 1e6).toFixed(2)} MB after ${count} (${growth >= 0 ? "+" : ""}${(growth / 1e3).toFixed(0)} kB)`);
      assert.ok(growth < 2_000_000, `the heap grew by ${growth} bytes over the second ${count - half} connections`);
      assert.ok(served >= (count * 3) / 4 - count / 100, `served ${served}`);
      const s = tcp.stats();
      assert.ok(s.resetsReceived >= Math.floor(count / 4) * 0.99, `resets received ${s.resetsReceived}`);
      assert.ok(s.simultaneousCloses > 0, "some FINs crossed");
      assert.equal(s.timerEntries, 0);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 290_000 },
  ),
);

/** Oasis's own Ethernet, ARP and IPv4 on `net`, with TCP on top. */
function tcpOver(net: Net, config: TcpConfig = {}): TcpStack {
  let tcp: TcpStack | null = null;
  ipv4Stack(net, { cidr: `${OURS}/24`, tcp: (ip) => (tcp = createTcp(ip, config)) });
  return tcp!;
}

const gc = ((): (() => void) => {
  v8.setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/** heapUsed after full collections (and a turn of the event loop so finalizers run). */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

async function waitEmpty(tcp: TcpStack, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (tcp.stats().connectionCount > 0) {
    if (Date.now() > end) assert.fail(`connections left: ${JSON.stringify(tcp.stats().connections)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
