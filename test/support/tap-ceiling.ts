// The raw TAP ceiling: how many frames per second the kernel can push through a TAP into JS,
// with nothing above the Net device. Other benchmarks compare their stack against it.
//
//   import { blast, measureTapRx } from "../../test/support/tap-ceiling.ts";
//   await withNetns(async (ns) => {
//     const r = await measureTapRx(ns, { frames: 200_000 });   // { framesPerSecond, … }
//   });
//
// The kernel side is tap-blaster (packages/oasis/native/tap_blaster.c, built with the addon): an
// AF_PACKET sender in the namespace that sends `frames` frames of `frameSize` bytes to the TAP
// as fast as the TAP's ring takes them, retrying what a full ring refuses, so every frame arrives
// exactly once. The rate is counted from the first frame delivered to JS to the last.
// blast(ns, { mac, frames, udp }) runs just the sender, for a stack that opened ns.tap itself.
//
// measureTapRxOffload(ns, { segments }) is the same ceiling for a TAP opened with offload: true:
// TCP payload per second arriving as 64 KB GSO frames (the kernel merges tap-blaster's segments
// with GRO on a veth pair and redirects them into the TAP; see the function for why).
//
// measureTapTx(ns, { mode }) is the other direction: JS writes frames as fast as it can with
// write() (one syscall per call), writeMany() or writePacked() (one JS → C call per batch), and
// the kernel's counters on the TAP confirm every frame arrived.
//
// `npm run bench:tap` (this file run directly) prints both, with ratios against one frame per
// JS call (batch 1 / write()) measured in the same run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tapBlasterFile, type TapNet } from "oasis/net/phy";
import { netnsUnavailable, withNetns, type Netns } from "./netns.ts";

export interface TapRxOptions {
  /** Frames the kernel sends (default 200 000). */
  frames?: number;
  /** Bytes per frame, Ethernet header included (default 60). */
  frameSize?: number;
  /** Frames per JS call (TapOptions.batch, default 128). */
  batch?: number;
  /** Called for each frame, to measure a consumer on top of the raw device (which may answer on `tap`). */
  onFrame?: (frame: Uint8Array, tap: TapNet) => void;
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /**
   * Send IPv4/UDP datagrams (valid checksums, source port 9) instead of raw 0x88b5 frames, e.g.
   * { src: "192.0.2.1", dst: "192.0.2.2", port: 7 }: the payload starts with a 32-bit sequence
   * number. For measuring a UDP stack on top of the TAP against the same sender.
   */
  udp?: { src: string; dst: string; port: number };
  /** The destination MAC of the blasted frames (default 02:00:00:00:0b:01); also the TAP's MAC. */
  mac?: string;
}

export interface TapRxResult {
  frames: number;
  frameSize: number;
  batch: number;
  seconds: number;
  framesPerSecond: number;
  /** Bits per second of Ethernet frames (headers included). */
  bitsPerSecond: number;
  /** How often the sender found the TAP's ring full and retried (0 means the sender was the bottleneck). */
  senderRetries: number;
  /** CPU time this process spent while the frames came in. */
  readerCpuSeconds: number;
  /** frames / readerCpuSeconds: the reader's own capacity when the sender, not the reader, is the limit. */
  framesPerReaderCpuSecond: number;
}

const US_MAC = "02:00:00:00:0b:01";

export interface BlastOptions {
  /** Destination MAC of the frames (the MAC of whatever listens on the TAP). */
  mac: string;
  frames: number;
  /** Bytes per frame, Ethernet header included (default 60; at least 46 with udp, 55 with tcp). */
  frameSize?: number;
  /** IPv4/UDP datagrams instead of raw 0x88b5 frames (see TapRxOptions.udp). */
  udp?: { src: string; dst: string; port: number };
  /** The consecutive segments of one TCP stream (source port 9, zero payload) instead; not with udp. */
  tcp?: { src: string; dst: string; port: number };
  /** The interface to send out of (default ns.tap). */
  interface?: string;
  timeoutMs?: number;
}

/**
 * Makes the kernel send `frames` frames out of ns.tap as fast as the TAP takes them (tap-blaster).
 * For benchmarks of a stack running on its own TAP: open it with ns.openTap, then blast.
 */
export async function blast(ns: Netns, options: BlastOptions): Promise<{ sent: number; retries: number; seconds: number }> {
  const blaster = tapBlasterFile();
  if (!existsSync(blaster)) throw new Error(`blast: ${blaster} is missing; build the addon with \`node packages/oasis/native/build.mjs\``);
  const ip = options.udp ?? options.tcp;
  const kind = ip ? [`${options.udp ? "udp" : "tcp"}:${ip.src}:${ip.dst}:${ip.port}`] : [];
  const r = await ns.exec(blaster, [options.interface ?? ns.tap, options.mac, String(options.frames), String(options.frameSize ?? 60), ...kind], { timeoutMs: options.timeoutMs ?? 60_000 });
  return JSON.parse(r.stdout) as { sent: number; retries: number; seconds: number };
}

/** Measures kernel → TAP → JS frames per second inside `ns` (see the top of this file). */
export async function measureTapRx(ns: Netns, options: TapRxOptions = {}): Promise<TapRxResult> {
  const frames = options.frames ?? 200_000;
  const frameSize = options.frameSize ?? 60;
  const batch = options.batch ?? 128;
  const mac = options.mac ?? US_MAC;
  const tap = ns.openTap({ mac, batch, mtu: Math.max(1500, frameSize - 14) });
  const [typeHi, typeLo] = options.udp ? [0x08, 0x00] : [0x88, 0xb5];
  let received = 0;
  let first = 0n;
  let last = 0n;
  const onFrame = options.onFrame;
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((r) => (resolveDone = r));
  tap.listen((f) => {
    if (f[12] !== typeHi || f[13] !== typeLo) return;
    if (received === 0) first = process.hrtime.bigint();
    received++;
    onFrame?.(f, tap);
    if (received === frames) {
      last = process.hrtime.bigint();
      resolveDone();
    }
  });
  const cpuBefore = process.cpuUsage();
  try {
    const sent = blast(ns, { mac, frames, frameSize, udp: options.udp, timeoutMs: options.timeoutMs });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`measureTapRx: only ${received} of ${frames} frames arrived within ${options.timeoutMs ?? 60_000} ms`)), options.timeoutMs ?? 60_000);
    });
    const [report] = await Promise.race([Promise.all([sent, done]), timeout]).finally(() => clearTimeout(timer));
    const cpu = process.cpuUsage(cpuBefore);
    const readerCpuSeconds = (cpu.user + cpu.system) / 1e6;
    const { retries } = report;
    const seconds = Number(last - first) / 1e9;
    return {
      frames,
      frameSize,
      batch,
      seconds,
      framesPerSecond: frames / seconds,
      bitsPerSecond: (frames * frameSize * 8) / seconds,
      senderRetries: retries,
      readerCpuSeconds,
      framesPerReaderCpuSecond: frames / readerCpuSeconds,
    };
  } finally {
    await tap.disconnect();
  }
}

export interface TapRxOffloadOptions {
  /** MTU-sized TCP segments the kernel sends (default 200 000, 1460 payload bytes each). */
  segments?: number;
  /** Frames per JS call (default 128). */
  batch?: number;
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** The TAP's MAC (default 02:00:00:00:0b:01). */
  mac?: string;
}

export interface TapRxOffloadResult {
  /** Segments tap-blaster sent, each 1460 bytes of TCP payload in a 1514-byte frame. */
  segments: number;
  /** Frames that reached JS: merged, so far fewer than segments. */
  frames: number;
  /** TCP payload bytes that reached JS. */
  payloadBytes: number;
  /** Segments' worth of payload that never reached JS (dropped in the kernel, see below). */
  lostSegments: number;
  /** The largest frame JS saw, and the segment size the kernel put in its virtio header. */
  largestFrame: number;
  segmentSize: number;
  seconds: number;
  /** TCP payload bits per second into JS. */
  bitsPerSecond: number;
  senderRetries: number;
  readerCpuSeconds: number;
}

const GRO_TX = "oasis-gro-tx";
const GRO_RX = "oasis-gro-rx";

/**
 * The raw ceiling with TAP offloads: how much TCP payload per second the kernel can push into JS
 * as 64 KB GSO frames (virtio header, partial checksum) through a TAP opened with offload: true,
 * the same kind of frames Oasis gets from the kernel's TCP with offloads on.
 *
 * Sending GSO frames into the TAP directly does not work: a packet socket (PACKET_VNET_HDR) or
 * another TAP marks them SKB_GSO_DODGY (untrusted), a TAP lacks NETIF_F_GSO_ROBUST
 * (`ethtool -k`: tx-gso-robust off [fixed]), so the kernel segments them back into MTU-sized
 * frames before the TAP. Only frames the kernel built itself stay whole, so the kernel builds
 * them: tap-blaster sends the MTU-sized segments of one TCP stream into a veth pair inside `ns`
 * whose far end does GRO, and a tc mirred rule redirects the merged packets to the TAP. A TAP
 * drops what does not fit its ring and mirred cannot push back, so the sender is not throttled by
 * the reader: lostSegments says how much was dropped; when it is not zero, the reader (or the
 * kernel on its CPU) was the limit. The rate counts only payload that reached JS.
 */
export async function measureTapRxOffload(ns: Netns, options: TapRxOffloadOptions = {}): Promise<TapRxOffloadResult> {
  const segments = options.segments ?? 200_000;
  const mac = options.mac ?? US_MAC;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const port = 5999;
  await ns.exec("ip", ["link", "add", GRO_TX, "type", "veth", "peer", "name", GRO_RX]);
  try {
    for (const dev of [GRO_TX, GRO_RX]) await ns.exec("sysctl", ["-q", "-w", `net.ipv6.conf.${dev}.disable_ipv6=1`]);
    // GRO on the veth's receiving end turns on its NAPI mode, where GRO runs; with TSO on the
    // sending end the veth would skip NAPI for a packet socket's frames.
    await ns.exec("ethtool", ["-K", GRO_RX, "gro", "on"]);
    await ns.exec("ethtool", ["-K", GRO_TX, "tso", "off"]);
    // The veth's NAPI poll runs in the sender's softirq right after each packet, so each poll
    // sees one packet and GRO flushes it alone. Deferring the re-arm for two polls with a 50 µs
    // flush timeout (busy polling's knobs) lets packets pile up, and GRO merges up to 64 KB; of the
    // settings tried (longer timeouts, threaded NAPI) this sent fastest.
    await ns.exec("sh", ["-c", `echo 50000 > /sys/class/net/${GRO_RX}/gro_flush_timeout && echo 2 > /sys/class/net/${GRO_RX}/napi_defer_hard_irqs`]);
    for (const dev of [GRO_TX, GRO_RX]) await ns.exec("ip", ["link", "set", dev, "up"]);
    await ns.exec("tc", ["qdisc", "add", "dev", GRO_RX, "handle", "ffff:", "ingress"]);
    await ns.exec("tc", ["filter", "add", "dev", GRO_RX, "parent", "ffff:", "protocol", "ip", "u32", "match", "ip", "protocol", "6", "0xff", "action", "mirred", "egress", "redirect", "dev", ns.tap]);
    const tap = ns.openTap({ mac, batch: options.batch ?? 128, offload: true });
    try {
      if (!tap.offload) throw new Error(`measureTapRxOffload: the kernel refused offloads on ${ns.tap}`);
      const total = segments * 1460;
      let payload = 0;
      let frames = 0;
      let largest = 0;
      let segmentSize = 0;
      let first = 0n;
      let last = 0n;
      let resolveDone: () => void = () => {};
      const done = new Promise<void>((r) => (resolveDone = r));
      tap.listen((f, rx) => {
        if (f.length < 54 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== 6 || ((f[36]! << 8) | f[37]!) !== port) return;
        last = process.hrtime.bigint();
        if (frames === 0) first = last;
        frames++;
        payload += f.length - 54;
        if (f.length > largest) largest = f.length;
        if (rx && rx.segmentSize > 0) segmentSize = rx.segmentSize;
        if (payload >= total) resolveDone();
      });
      const cpuBefore = process.cpuUsage();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`measureTapRxOffload: only ${payload} of ${total} payload bytes arrived within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const report = await Promise.race([blast(ns, { mac, frames: segments, frameSize: 1514, tcp: { src: "192.0.2.1", dst: "192.0.2.2", port }, interface: GRO_TX, timeoutMs }), timeout]);
        // Dropped segments never come: once the sender is done, wait until frames stop arriving.
        for (let seen = -1; payload < total && seen !== frames; ) {
          seen = frames;
          await Promise.race([done, new Promise((r) => setTimeout(r, 300)), timeout]);
        }
        const cpu = process.cpuUsage(cpuBefore);
        const seconds = Number(last - first) / 1e9;
        return {
          segments,
          frames,
          payloadBytes: payload,
          lostSegments: Math.round((total - payload) / 1460),
          largestFrame: largest,
          segmentSize,
          seconds,
          bitsPerSecond: (payload * 8) / seconds,
          senderRetries: report.retries,
          readerCpuSeconds: (cpu.user + cpu.system) / 1e6,
        };
      } finally {
        clearTimeout(timer);
      }
    } finally {
      await tap.disconnect();
    }
  } finally {
    await ns.exec("ip", ["link", "del", GRO_TX], { check: false });
  }
}

export interface TapTxOptions {
  frames?: number;
  frameSize?: number;
  mode?: "write" | "writeMany" | "writePacked";
  /** Frames per writeMany/writePacked call (default 64). */
  batch?: number;
}

export interface TapTxResult {
  mode: string;
  frames: number;
  frameSize: number;
  batch: number;
  seconds: number;
  framesPerSecond: number;
  bitsPerSecond: number;
}

/** Measures JS → TAP → kernel frames per second inside `ns`; checks the kernel counted them all. */
export async function measureTapTx(ns: Netns, options: TapTxOptions = {}): Promise<TapTxResult> {
  const frames = options.frames ?? 200_000;
  const frameSize = options.frameSize ?? 60;
  const mode = options.mode ?? "write";
  const batch = mode === "write" ? 1 : (options.batch ?? 64);
  const tap = ns.openTap({ mac: US_MAC, mtu: Math.max(1500, frameSize - 14) });
  const counter = async () => Number((await ns.exec("cat", [`/sys/class/net/${ns.tap}/statistics/rx_packets`])).stdout);
  try {
    const packed = new Uint8Array(frameSize * batch);
    const lengths = new Uint32Array(batch).fill(frameSize);
    const list: Uint8Array[] = [];
    for (let i = 0; i < batch; i++) {
      const f = packed.subarray(i * frameSize, (i + 1) * frameSize);
      f.fill(0xff, 0, 6);
      f.set(tap.mac, 6);
      f[12] = 0x88;
      f[13] = 0xb5;
      list.push(f);
    }
    const before = await counter();
    const start = process.hrtime.bigint();
    if (mode === "write") for (let i = 0; i < frames; i++) tap.write(list[0]!);
    else {
      for (let sent = 0; sent < frames; sent += batch) {
        const n = Math.min(batch, frames - sent);
        if (mode === "writeMany") tap.writeMany(n === batch ? list : list.slice(0, n));
        else tap.writePacked(packed, lengths, n);
      }
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    // The kernel counts a frame inside the write syscall, so the count is final here.
    const arrived = (await counter()) - before;
    const s = tap.stats();
    if (arrived !== frames || s.txDropped !== 0) {
      throw new Error(`measureTapTx: the kernel counted ${arrived} of ${frames} frames (txDropped ${s.txDropped}, still queued ${s.txQueueLength})`);
    }
    return { mode, frames, frameSize, batch, seconds, framesPerSecond: frames / seconds, bitsPerSecond: (frames * frameSize * 8) / seconds };
  } finally {
    await tap.disconnect();
  }
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.error(`bench:tap needs network namespaces: ${why}`);
    process.exit(1);
  }
  const frames = Number(process.env.FRAMES ?? 200_000);
  const trials = Number(process.env.TRIALS ?? 3);
  // The median of a few trials: a shared 2-CPU machine makes single runs jumpy.
  const median = async <R extends { framesPerSecond: number }>(run: () => Promise<R>): Promise<R> => {
    const results: R[] = [];
    for (let i = 0; i < trials; i++) results.push(await run());
    results.sort((a, b) => a.framesPerSecond - b.framesPerSecond);
    return results[Math.floor(results.length / 2)]!;
  };
  const rows: TapRxResult[] = [];
  const txRows: TapTxResult[] = [];
  let offloadRow: TapRxOffloadResult | null = null;
  await withNetns(
    async (ns) => {
      for (const batch of [1, 16, 128, 256]) rows.push(await median(() => measureTapRx(ns, { frames, batch })));
      rows.push(await median(() => measureTapRx(ns, { frames: Math.floor(frames / 4), batch: 128, frameSize: 1514 })));
      txRows.push(await median(() => measureTapTx(ns, { frames, mode: "write" })));
      txRows.push(await median(() => measureTapTx(ns, { frames, mode: "writeMany", batch: 64 })));
      txRows.push(await median(() => measureTapTx(ns, { frames, mode: "writePacked", batch: 64 })));
      txRows.push(await median(() => measureTapTx(ns, { frames: Math.floor(frames / 4), mode: "writePacked", batch: 64, frameSize: 1514 })));
      const offloaded: TapRxOffloadResult[] = [];
      for (let i = 0; i < trials; i++) offloaded.push(await measureTapRxOffload(ns, { segments: frames }));
      offloaded.sort((x, y) => x.bitsPerSecond - y.bitsPerSecond);
      offloadRow = offloaded[Math.floor(offloaded.length / 2)]!;
    },
    { timeoutMs: 300_000 },
  );
  const baseline = rows[0]!.framesPerSecond;
  console.log(`kernel → TAP → JS, ${frames} frames per row, median of ${trials} (tap-blaster in a network namespace)\n`);
  const baselineCpu = rows[0]!.framesPerReaderCpuSecond;
  console.log("| batch | frame bytes | frames/s | Mbit/s | vs batch 1 | frames per reader CPU-s | vs batch 1 | sender retries |");
  console.log("|------:|------------:|---------:|-------:|-----------:|------------------------:|-----------:|---------------:|");
  const n = (x: number) => Math.round(x).toLocaleString("en");
  for (const r of rows) {
    console.log(
      `| ${r.batch} | ${r.frameSize} | ${n(r.framesPerSecond)} | ${(r.bitsPerSecond / 1e6).toFixed(0)} | ${(r.framesPerSecond / baseline).toFixed(2)}× | ${n(r.framesPerReaderCpuSecond)} | ${(r.framesPerReaderCpuSecond / baselineCpu).toFixed(2)}× | ${r.senderRetries} |`,
    );
  }
  // Assigned inside the callback above, which TypeScript's narrowing does not follow.
  const o = offloadRow as TapRxOffloadResult | null;
  if (o) {
    console.log(`\nkernel → TAP → JS with offloads: ${n(o.segments)} TCP segments merged by veth GRO into ${n(o.frames)} frames (largest ${o.largestFrame} bytes, segment size ${o.segmentSize}), median of ${trials}\n`);
    console.log("| frames/s | TCP payload Mbit/s | vs 1514-byte frames above | payload MB per reader CPU-s | segments lost |");
    console.log("|---------:|-------------------:|--------------------------:|----------------------------:|--------------:|");
    const mtuRow = rows.find((r) => r.frameSize === 1514);
    const mtuPayloadBps = mtuRow ? mtuRow.bitsPerSecond * (1460 / 1514) : NaN;
    console.log(`| ${n(o.frames / o.seconds)} | ${(o.bitsPerSecond / 1e6).toFixed(0)} | ${(o.bitsPerSecond / mtuPayloadBps).toFixed(2)}× | ${(o.payloadBytes / 1e6 / o.readerCpuSeconds).toFixed(0)} | ${n(o.lostSegments)} |`);
    console.log("\nThe offload path is paced by the single sender and GRO, not the reader: a lower bound of what JS can take (see measureTapRxOffload).");
  }
  console.log(`\nJS → TAP → kernel, ${frames} frames per row, median of ${trials} (every frame checked in the kernel's rx_packets)\n`);
  console.log("| call | frames per call | frame bytes | frames/s | Mbit/s | vs write() |");
  console.log("|------|----------------:|------------:|---------:|-------:|-----------:|");
  for (const r of txRows) {
    console.log(`| ${r.mode} | ${r.batch} | ${r.frameSize} | ${n(r.framesPerSecond)} | ${(r.bitsPerSecond / 1e6).toFixed(0)} | ${(r.framesPerSecond / txRows[0]!.framesPerSecond).toFixed(2)}× |`);
  }
  const cpu = spawnSync("nproc", { encoding: "utf8" }).stdout.trim();
  console.log(`\n${cpu} CPUs; node ${process.version}. Few sender retries mean the single AF_PACKET sender, not the JS reader, set the pace.`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
