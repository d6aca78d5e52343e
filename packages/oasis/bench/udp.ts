// npm run bench:udp — UDP datagrams per second from the Linux kernel through a TAP and the whole
// Oasis stack (Ethernet → IPv4 → UDP with checksum → application callback), against the raw
// ceiling of the same TAP (kernel → TAP → JS frames with nothing above the Net device), both
// measured in one run in the same network namespace, with 60-byte frames (18 bytes of payload).
//
// The UDP sender is the kernel's own UDP stack (a small sendmmsg program compiled here with cc);
// the raw sender is tap-blaster (test/support/tap-ceiling.ts). Both run in the namespace, on the
// other CPU if there is one; the JS reader is the bottleneck either way.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureTapRx } from "../../../test/support/tap-ceiling.ts";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";
import { ipv4Stack } from "../src/net/stack/direct.ts";
import { writeIpv4Header } from "../src/net/wire/ipv4.ts";
import { emitUdpHeader } from "../src/net/wire/udp.ts";
import { ipv4PseudoSum } from "../src/net/wire/checksum.ts";

const SENDER_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
enum { BATCH = 64 };
int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: udp-sender HOST PORT COUNT BYTES\n"); return 64; }
  long count = atol(argv[3]); int size = atoi(argv[4]);
  if (size < 4 || size > 1400) { fprintf(stderr, "udp-sender: BYTES must be 4..1400\n"); return 64; }
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a; memset(&a, 0, sizeof a);
  a.sin_family = AF_INET; a.sin_port = htons(atoi(argv[2]));
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) { fprintf(stderr, "udp-sender: bad address\n"); return 64; }
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
  static unsigned char bufs[BATCH][1400];
  struct iovec iov[BATCH]; struct mmsghdr msgs[BATCH]; memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < BATCH; i++) { iov[i].iov_base = bufs[i]; iov[i].iov_len = size; msgs[i].msg_hdr.msg_iov = &iov[i]; msgs[i].msg_hdr.msg_iovlen = 1; }
  long sent = 0, refused = 0; uint32_t seq = 0;
  while (sent < count) {
    int n = count - sent < BATCH ? (int)(count - sent) : BATCH;
    for (int i = 0; i < n; i++) { uint32_t s = htonl(seq + i); memcpy(bufs[i], &s, 4); }
    int r = sendmmsg(fd, msgs, n, 0);
    if (r < 0) { refused++; r = 1; } /* ENOBUFS: the TAP queue was full and the kernel dropped it */
    sent += r; seq += r;
  }
  printf("{\"sent\":%ld,\"refused\":%ld}\n", sent, refused);
  return 0;
}
`;

interface StackResult {
  datagrams: number;
  sent: number;
  seconds: number;
  perSecond: number;
  cpuSeconds: number;
  perCpuSecond: number;
}

async function measureStackRx(ns: Netns, sender: string, datagrams: number): Promise<StackResult> {
  const tap = ns.openTap({ batch: 128 });
  const s = ipv4Stack(tap, { cidr: "192.0.2.2/24" });
  const mac = Array.from(tap.mac, (b) => b.toString(16).padStart(2, "0")).join(":");
  // A permanent neighbour entry: the measurement is about datagrams, not the first ARP exchange.
  await ns.exec("ip", ["neigh", "replace", "192.0.2.2", "lladdr", mac, "dev", ns.tap, "nud", "permanent"]);
  let received = 0;
  let first = 0n;
  let last = 0n;
  let bytes = 0;
  s.udp.listen(9, (d) => {
    if (received === 0) first = process.hrtime.bigint();
    received++;
    bytes += d.data.length;
    last = process.hrtime.bigint();
  });
  const cpuBefore = process.cpuUsage();
  try {
    const r = await ns.exec(sender, ["192.0.2.2", "9", String(datagrams), "18"], { timeoutMs: 120_000 });
    const { sent } = JSON.parse(r.stdout) as { sent: number };
    // Drain what is still queued in the TAP: stop when nothing arrived for 300 ms.
    for (let seen = -1; seen !== received; ) {
      seen = received;
      await new Promise((res) => setTimeout(res, 300));
    }
    const cpu = process.cpuUsage(cpuBefore);
    if (bytes !== received * 18) throw new Error(`bench: payload sizes wrong (${bytes} bytes in ${received} datagrams)`);
    const seconds = Number(last - first) / 1e9;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return { datagrams: received, sent, seconds, perSecond: received / seconds, cpuSeconds, perCpuSecond: received / cpuSeconds };
  } finally {
    await s.stack.disconnect();
  }
}

/**
 * The other direction: the application writes datagrams through the stack, or (baseline) JS
 * writes the very same prebuilt UDP frames straight to the TAP, so the kernel does the same work
 * for both. The kernel's counters on the TAP confirm every frame.
 */
async function measureTx(ns: Netns, datagrams: number, through: "stack" | "raw"): Promise<number> {
  const tap = ns.openTap();
  const s = ipv4Stack(tap, { cidr: "192.0.2.2/24" });
  const kernelMac = new Uint8Array((await ns.kernelMac()).split(":").map((h) => parseInt(h, 16)));
  s.arp.addStatic("192.0.2.1", kernelMac);
  const counter = async () => Number((await ns.exec("cat", [`/sys/class/net/${ns.tap}/statistics/rx_packets`])).stdout);
  const src = 0xc0000202;
  const dst = 0xc0000201;
  const frame = new Uint8Array(60);
  frame.set(kernelMac, 0);
  frame.set(tap.mac, 6);
  frame[12] = 0x08;
  writeIpv4Header(frame, 14, src, dst, 17, 64, 1, 0, 26);
  emitUdpHeader(frame, 34, 9, 9, frame.subarray(42), ipv4PseudoSum(src, dst, 17, 26));
  try {
    const payload = new Uint8Array(18);
    const before = await counter();
    const start = process.hrtime.bigint();
    if (through === "stack") for (let i = 0; i < datagrams; i++) void s.udp.write("192.0.2.1", 9, payload, { srcPort: 9 });
    else for (let i = 0; i < datagrams; i++) tap.write(frame);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const arrived = (await counter()) - before;
    if (arrived < datagrams) throw new Error(`bench: the kernel counted ${arrived} of ${datagrams} frames (TAP stats ${JSON.stringify(tap.stats())})`);
    return datagrams / seconds;
  } finally {
    await s.stack.disconnect();
  }
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.error(`bench:udp needs network namespaces: ${why}`);
    process.exit(1);
  }
  const frames = Number(process.env.FRAMES ?? 300_000);
  const trials = Number(process.env.TRIALS ?? 3);
  const dir = mkdtempSync(join(tmpdir(), "oasis-bench-udp-"));
  try {
    writeFileSync(join(dir, "udp-sender.c"), SENDER_C);
    const cc = spawnSync("cc", ["-O2", "-o", join(dir, "udp-sender"), join(dir, "udp-sender.c")], { encoding: "utf8" });
    if (cc.status !== 0) throw new Error(`bench:udp could not compile its UDP sender with cc:\n${cc.stderr}`);
    const raws: number[] = [];
    const rawCpu: number[] = [];
    const stacks: StackResult[] = [];
    const rawTx: number[] = [];
    const stackTx: number[] = [];
    await withNetns(
      async (ns) => {
        await ns.exec("ip", ["link", "set", ns.tap, "txqueuelen", "10000"]);
        for (let i = 0; i < trials; i++) {
          // Alternate the two so a noisy neighbour on the machine hits both alike.
          const raw = await measureTapRx(ns, { frames, batch: 128 });
          raws.push(raw.framesPerSecond);
          rawCpu.push(raw.framesPerReaderCpuSecond);
          stacks.push(await measureStackRx(ns, join(dir, "udp-sender"), frames));
          rawTx.push(await measureTx(ns, frames, "raw"));
          stackTx.push(await measureTx(ns, frames, "stack"));
        }
      },
      { kernelAddress: "192.0.2.1/24", timeoutMs: 600_000 },
    );
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const n = (x: number) => Math.round(x).toLocaleString("en");
    const rawRate = median(raws);
    const rawPerCpu = median(rawCpu);
    const stackRate = median(stacks.map((s) => s.perSecond));
    const stackPerCpu = median(stacks.map((s) => s.perCpuSecond));
    const lost = stacks.map((s) => s.sent - s.datagrams);
    console.log(`kernel → TAP → JS, ${frames.toLocaleString("en")} frames of 60 bytes per trial, median of ${trials} trials\n`);
    console.log("| path | per second | vs raw TAP | per JS CPU-second | vs raw TAP |");
    console.log("|------|-----------:|-----------:|------------------:|-----------:|");
    console.log(`| raw TAP frames into a JS callback (baseline) | ${n(rawRate)} | 1.00× | ${n(rawPerCpu)} | 1.00× |`);
    console.log(`| UDP datagrams through Ethernet, IPv4, UDP to the application | ${n(stackRate)} | ${(stackRate / rawRate).toFixed(2)}× | ${n(stackPerCpu)} | ${(stackPerCpu / rawPerCpu).toFixed(2)}× |`);
    console.log(`\nJS → TAP → kernel, the same 60-byte UDP frames, one write() each (kernel rx_packets checked)\n`);
    console.log("| path | per second | vs raw TAP |");
    console.log("|------|-----------:|-----------:|");
    console.log(`| prebuilt UDP frames written to the TAP (baseline) | ${n(median(rawTx))} | 1.00× |`);
    console.log(`| UDP datagrams written by the application through UDP, IPv4, Ethernet | ${n(median(stackTx))} | ${(median(stackTx) / median(rawTx)).toFixed(2)}× |`);
    console.log(`\nTarget: UDP ≥ 0.60× raw (receive). Datagrams the kernel dropped at the full TAP queue per trial: ${lost.join(", ")} .`);
    console.log("The per-CPU column is the stack's own cost; wall-clock rates also depend on how the two senders share the CPUs.");
    console.log(`${spawnSync("nproc", { encoding: "utf8" }).stdout.trim()} CPUs; node ${process.version}.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
