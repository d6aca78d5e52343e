// Acceptance tests of Oasis's TCP against the Linux kernel in a network namespace: 100 MB each way
// with socat (sha256 at both ends, hashed on the fly), a kernel SYN flood during an established
// transfer, and a transfer through netem-like impairment applied on Oasis's side of the TAP.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { netnsUnavailable, withNetns, type Netns } from "../../../../../test/support/netns.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import type { Net } from "../../devices/net.ts";
import { withFaults } from "oasis/net/phy";
import { ipv4Stack } from "../stack/direct.ts";
import { createTcp, type TcpConfig, type TcpStack } from "./index.ts";
import { tallyOffloads } from "./test-support.ts";

const skip = netnsUnavailable();
const OURS = "192.0.2.2";
const KERNEL = "192.0.2.1";

/** Reads `flow` to its end, hashing on the fly; then closes it. */
async function drain(flow: TcpFlow): Promise<{ bytes: number; sha: string }> {
  const h = createHash("sha256");
  let bytes = 0;
  for (;;) {
    const c = await flow.read();
    if (c === null) break;
    bytes += c.length;
    h.update(c);
  }
  await flow.close();
  return { bytes, sha: h.digest("hex") };
}

/** Writes `bytes` fresh random bytes to `flow` in 256 KiB chunks, hashing on the fly; then closes it. */
async function pour(flow: TcpFlow, bytes: number): Promise<string> {
  const h = createHash("sha256");
  for (let sent = 0; sent < bytes; ) {
    const chunk = randomBytes(Math.min(256 * 1024, bytes - sent));
    h.update(chunk);
    await flow.write(chunk);
    sent += chunk.length;
  }
  await flow.close();
  return h.digest("hex");
}

/** A kernel sink on `port` (socat into a Python hasher printing "bytes N sha H"); resolves once it listens. */
async function startSink(ns: Netns, port: number) {
  const p = ns.spawn("sh", ["-c", `socat -u TCP-LISTEN:${port},reuseaddr - | python3 -c "import sys,hashlib; h=hashlib.sha256(); n=0\nfor b in iter(lambda: sys.stdin.buffer.read(1<<20), b''): h.update(b); n+=len(b)\nprint('bytes',n,'sha',h.hexdigest(),flush=True)"`]);
  const end = Date.now() + 10_000;
  while (!(await ns.exec("ss", ["-Hltn", `sport = :${port}`])).stdout.includes(`:${port}`)) {
    if (Date.now() > end) throw new Error(`socat did not listen on ${port}: ${p.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    async result(timeoutMs = 120_000) {
      const m = await p.waitFor(/bytes (\d+) sha ([0-9a-f]{64})/, timeoutMs);
      return { bytes: Number(m[1]), sha: m[2]! };
    },
  };
}

/** Kernel → Oasis: a random file of `bytes` in the namespace, sent by socat to OURS:port; resolves with its sha256. */
async function kernelSend(ns: Netns, port: number, bytes: number, timeoutMs = 120_000): Promise<string> {
  const f = `${ns.tmpDir}/send-${port}`;
  const r = await ns.exec("sh", ["-c", `head -c ${bytes} /dev/urandom > ${f} && socat -u FILE:${f} TCP:${OURS}:${port} && sha256sum < ${f} && rm -f ${f}`], { timeoutMs });
  return r.stdout.split(" ")[0]!;
}

for (const offload of [false, true]) {
  test(`100 MB each way between socat and Oasis at the same time, sha256 equal at both ends (${offload ? "TAP offloads: merged 64 KB frames" : "MTU-sized frames"})`, { skip, timeout: 240_000 }, () =>
    withNetns(
      async (ns) => {
        const size = Number(process.env.OASIS_TCP_ACCEPTANCE_MB ?? 100) * 1_000_000;
        const tap = ns.openTap({ offload });
        const tcp = tcpOver(tap);
        const received = new Promise<{ bytes: number; sha: string }>((resolve, reject) => tcp.listen(8080, (flow) => drain(flow).then(resolve, reject)));
        const sink = await startSink(ns, 9000);
        const [sentByKernel, sentByUs] = await Promise.all([
          kernelSend(ns, 8080, size, 220_000),
          tcp.connect(KERNEL, 9000).then((flow) => pour(flow, size)),
        ]);
        const got = await received;
        assert.equal(got.bytes, size, "kernel → Oasis length");
        assert.equal(got.sha, sentByKernel, "kernel → Oasis sha256");
        const atKernel = await sink.result();
        assert.equal(atKernel.bytes, size, "Oasis → kernel length");
        assert.equal(atKernel.sha, sentByUs, "Oasis → kernel sha256");
        await waitEmpty(tcp);
        assert.equal(tcp.stats().timerEntries, 0);
        // Offloads on: most data moved in frames larger than the MTU; off: none did.
        const s = tap.stats();
        assert.ok(offload ? s.rxPackets < size / 8000 && s.txPackets < size / 8000 : s.rxPackets > size / 1500, JSON.stringify(s));
        await tap.disconnect();
      },
      { kernelAddress: `${KERNEL}/24`, timeoutMs: 230_000 },
    ),
  );
}

test("a 5 s kernel SYN flood (hping3) does not stop an established transfer; the half-open queue stays bounded, a new connection succeeds after, the table drains", { skip, timeout: 120_000 }, (t) =>
  withNetns(
    async (ns) => {
      const backlog = 64;
      const tap = ns.openTap();
      // Two SYN-ACK retries: the flood's half-open entries expire within 7 s, not 63.
      const tcp = tcpOver(tap, { synRetries: 2 });
      // Each connection: read to the end, answer "<bytes> <sha256>", close.
      tcp.listen(
        8080,
        async (flow) => {
          const h = createHash("sha256");
          let n = 0;
          for (;;) {
            const c = await flow.read();
            if (c === null) break;
            n += c.length;
            h.update(c);
          }
          await flow.write(new TextEncoder().encode(`got ${n} ${h.digest("hex")}\n`));
          await flow.close();
        },
        { backlog },
      );
      // The established transfer: 20 MB paced at about 2 MB/s (10 s), so it runs through the whole flood.
      const total = 20_000_000;
      const client = ns.spawn("python3", [
        "-c",
        [
          "import socket,hashlib,os,time",
          `s=socket.create_connection(('${OURS}',8080)); h=hashlib.sha256(); n=0; t0=time.time()`,
          `while n<${total}:`,
          "  d=os.urandom(64*1024); s.sendall(d); h.update(d); n+=len(d)",
          "  time.sleep(max(0,n/2e6-(time.time()-t0)))",
          "s.shutdown(socket.SHUT_WR); r=b''",
          "while True:",
          "  d=s.recv(4096)",
          "  if not d: break",
          "  r+=d",
          "print('sent',n,h.hexdigest(),flush=True); print(r.decode().strip(),flush=True)",
        ].join("\n"),
      ]);
      const start = Date.now();
      while (tcp.stats().bytesIn < 1_000_000) {
        if (Date.now() - start > 20_000) assert.fail(`the transfer did not start: ${client.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const before = tcp.stats();
      // SYNs from a neighbour address that never answers: every SYN-ACK goes unanswered, so
      // half-open entries stay until evicted or expired (from the kernel's own address, its RSTs
      // would free them at once).
      let maxHalfOpen = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          maxHalfOpen = Math.max(maxHalfOpen, tcp.stats().connections.SYN_RECEIVED);
          await new Promise((r) => setTimeout(r, 25));
        }
      })();
      const flood = await ns.exec("timeout", ["5", "hping3", "-q", "-S", "--flood", "-a", "192.0.2.77", "-p", "8080", OURS], { check: false, timeoutMs: 30_000 });
      sampling = false;
      await sampler;
      const during = tcp.stats();
      assert.ok(during.bytesIn < total, "the transfer was still running when the flood ended");
      const floodSyns = during.passiveOpens - before.passiveOpens + (during.drops["syn-backlog-full"] ?? 0);
      assert.ok(floodSyns > 10_000, `the flood reached the listener (${floodSyns} SYNs; hping3: ${flood.stdout}${flood.stderr})`);
      assert.ok(maxHalfOpen <= backlog, `half-open connections peaked at ${maxHalfOpen} > backlog ${backlog}`);
      assert.ok((during.drops["syn-backlog-full"] ?? 0) > 0, "the queue filled and SYNs were dropped");
      assert.ok((during.drops["syn-received-evicted"] ?? 0) > 0, "unanswered half-open entries gave way to new SYNs");
      t.diagnostic(`flood: ${floodSyns} SYNs reached the listener, half-open peaked at ${maxHalfOpen}/${backlog}, ${during.drops["syn-backlog-full"]} dropped, ${during.drops["syn-received-evicted"]} evicted; transfer at ${before.bytesIn} → ${during.bytesIn} bytes`);
      // A new connection right after the flood.
      const fresh = await ns.exec("sh", ["-c", `printf hello | socat -t 20 -T 30 STDIO TCP:${OURS}:8080,connect-timeout=20`], { timeoutMs: 40_000 });
      assert.match(fresh.stdout, new RegExp(`^got 5 ${createHash("sha256").update("hello").digest("hex")}$`, "m"));
      // The established transfer completes byte-exact.
      const sent = await client.waitFor(/sent (\d+) ([0-9a-f]{64})\s+got (\d+) ([0-9a-f]{64})/, 90_000);
      assert.equal(sent[3], sent[1], "bytes received = bytes sent");
      assert.equal(sent[4], sent[2], "sha256 equal");
      // The flood's half-open entries expire; the table and the timer heap drain.
      await waitEmpty(tcp, 30_000);
      assert.equal(tcp.stats().timerEntries, 0);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 110_000 },
  ),
);

test("exchanges 2 MB each way byte-exact through netem-like impairment on Oasis's side (loss 5 %, reorder 1 %, duplicate 1 %, delay 20 ms, both directions)", { skip, timeout: 180_000 }, (t) =>
  withNetns(
    async (ns) => {
      const size = 2_000_000;
      // With offloads, as unikernels run: the kernel's merged frames are cut back into segments
      // by the injector before its faults, so loss and reordering hit wire-sized segments.
      const tap = ns.openTap({ offload: true });
      const { net, tally } = tallyOffloads(tap);
      const faulty = withFaults(net, { seed: 9, loss: 0.05, reorder: 0.01, duplicate: 0.01, delayMs: 20 });
      const tcp = tcpOver(faulty);
      const received = new Promise<{ bytes: number; sha: string }>((resolve, reject) => tcp.listen(8080, (flow) => drain(flow).then(resolve, reject)));
      const sink = await startSink(ns, 9000);
      const [sentByKernel, sentByUs] = await Promise.all([kernelSend(ns, 8080, size, 160_000), tcp.connect(KERNEL, 9000).then((flow) => pour(flow, size))]);
      const got = await received;
      assert.equal(got.bytes, size);
      assert.equal(got.sha, sentByKernel);
      const atKernel = await sink.result(60_000);
      assert.equal(atKernel.bytes, size);
      assert.equal(atKernel.sha, sentByUs);
      const f = faulty.faultStats();
      assert.ok(f.lost > 0 && f.reordered > 0 && f.duplicated > 0 && f.delayed > 0, JSON.stringify(f));
      const s = tcp.stats();
      assert.ok(s.retransmits > 0 && s.outOfOrder > 0, JSON.stringify(s));
      assert.ok(tally.rxMerged > 0, `the kernel sent merged frames for the injector to cut: ${JSON.stringify(tally)}`);
      t.diagnostic(`faults ${JSON.stringify(f)}; Oasis retransmits ${s.retransmits}, fast recoveries ${s.fastRecoveries}, RTO expiries ${s.rtoExpiries}; merged frames from the kernel ${tally.rxMerged}`);
      await waitEmpty(tcp);
      await tap.disconnect();
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 170_000 },
  ),
);

/** Oasis's own Ethernet, ARP and IPv4 on `net`, with TCP on top. */
function tcpOver(net: Net, config: TcpConfig = {}): TcpStack {
  let tcp: TcpStack | null = null;
  ipv4Stack(net, { cidr: `${OURS}/24`, tcp: (ip) => (tcp = createTcp(ip, config)) });
  return tcp!;
}

async function waitEmpty(tcp: TcpStack, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (tcp.stats().connectionCount > 0) {
    if (Date.now() > end) assert.fail(`connections left: ${JSON.stringify(tcp.stats().connections)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
