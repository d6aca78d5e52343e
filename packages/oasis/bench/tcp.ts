// bench:tcp — Oasis TCP throughput against the Linux kernel over a TAP in a network namespace,
// next to the raw kernel → TAP → JS ceiling measured in the same run. Prints a table with ratios.
//
//   npm run bench:tcp                 (MB=200 for a longer run)
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";
import { measureTapRx } from "../../../test/support/tap-ceiling.ts";
import type { TcpFlow } from "../src/devices/tcp.ts";
import type { Net } from "../src/devices/net.ts";
import { ipv4Stack } from "../src/net/stack/direct.ts";
import { createTcp, type TcpStack } from "../src/net/tcp/index.ts";

const OURS = "192.0.2.2";
const KERNEL = "192.0.2.1";

interface Row {
  name: string;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  note: string;
}

/** Oasis's Ethernet, ARP, IPv4 and TCP on `net`. */
function tcpOver(net: Net): TcpStack {
  let tcp: TcpStack | null = null;
  ipv4Stack(net, { cidr: `${OURS}/24`, tcp: (ip) => (tcp = createTcp(ip)) });
  return tcp!;
}

/** The kernel sends `bytes` to an Oasis sink. */
async function oasisReceive(ns: Netns, bytes: number, offload: boolean): Promise<Row> {
  const tap = ns.openTap({ offload });
  const tcp = tcpOver(tap);
  let got = 0;
  let start = 0n;
  let end = 0n;
  let cpu0 = process.cpuUsage();
  const done = new Promise<void>((resolve) => {
    tcp.listen(5001, async (flow: TcpFlow) => {
      for (;;) {
        const c = await flow.read();
        if (c === null) break;
        if (got === 0) {
          start = process.hrtime.bigint();
          cpu0 = process.cpuUsage();
        }
        got += c.length;
      }
      end = process.hrtime.bigint();
      await flow.close();
      resolve();
    });
  });
  await ns.exec("sh", ["-c", `head -c ${bytes} /dev/zero | socat -u -b 262144 - TCP:${OURS}:5001`], { timeoutMs: 300_000 });
  await done;
  const cpu = process.cpuUsage(cpu0);
  await tap.disconnect();
  const s = tcp.stats();
  return { name: `kernel → Oasis (Oasis receives${offload ? ", TAP offloads" : ""})`, bytes: got, seconds: Number(end - start) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, note: `${s.segmentsIn} segments in, ${s.segmentsOut} out` };
}

/** Oasis sends `bytes` to a kernel sink. */
async function oasisSend(ns: Netns, bytes: number, offload: boolean): Promise<Row> {
  const sink = ns.spawn("sh", ["-c", `socat -u -b 262144 TCP-LISTEN:5002,reuseaddr - | wc -c`]);
  await new Promise((r) => setTimeout(r, 300));
  const tap = ns.openTap({ offload });
  const tcp = tcpOver(tap);
  const flow = await tcp.connect(KERNEL, 5002);
  const chunk = new Uint8Array(256 * 1024);
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let sent = 0; sent < bytes; sent += chunk.length) await flow.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
  await flow.close();
  const end = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const m = await sink.waitFor(/^\s*(\d+)\s*$/m, 60_000);
  await tap.disconnect();
  const s = tcp.stats();
  return { name: `Oasis → kernel (Oasis sends${offload ? ", TAP offloads" : ""})`, bytes: Number(m[1]), seconds: Number(end - start) / 1e9, cpuSeconds: (cpu.user + cpu.system) / 1e6, note: `${s.retransmits} retransmits` };
}

/**
 * Builds the lwIP comparison program (bench/lwip/lwip_bench.c against Debian's liblwip-dev). It
 * uses its own small TAP driver: the library's tapif corrupts its heap on receive.
 */
function buildLwip(dir: string): string | null {
  const src = new URL("./lwip/lwip_bench.c", import.meta.url).pathname;
  const out = join(dir, "lwip_bench");
  const flags = spawnSync("pkg-config", ["--cflags", "--libs", "lwip"], { encoding: "utf8" });
  if (flags.status !== 0) return null;
  const cc = spawnSync("cc", ["-O2", "-o", out, src, ...flags.stdout.trim().split(/\s+/)], { encoding: "utf8" });
  if (cc.status !== 0) {
    console.error(`lwIP comparison skipped: cannot build ${src}:\n${cc.stderr}`);
    return null;
  }
  return out;
}

function lwipResult(text: string): { bytes: number; seconds: number } {
  const m = /\{"bytes": (\d+), "seconds": ([0-9.]+)\}/.exec(text);
  if (!m) throw new Error(`lwip_bench printed no result:\n${text}`);
  return { bytes: Number(m[1]), seconds: Number(m[2]) };
}

async function lwipReceive(ns: Netns, binary: string, bytes: number): Promise<Row> {
  const p = ns.spawn(binary, ["recv", "5003"], { env: { ...process.env, PRECONFIGURED_TAPIF: ns.tap } });
  await p.waitFor(/listening/, 10_000).catch(async (e) => {
    await p.stop();
    throw e;
  });
  try {
    // A crash of lwIP must not hang the benchmark: give it 20 s, not minutes.
    await Promise.race([ns.exec("sh", ["-c", `head -c ${bytes} /dev/zero | socat -u - TCP:${OURS}:5003`], { timeoutMs: 20_000 }), p.exited.then(() => {
        if (!/"seconds"/.test(p.output())) throw new Error(`lwip_bench died: ${p.output().slice(-300)}`);
      })]);
    await p.waitFor(/"seconds"/, 30_000);
  } finally {
    await p.stop();
  }
  const r = lwipResult(p.output());
  return { name: "kernel → lwIP (lwIP receives)", bytes: r.bytes, seconds: r.seconds, cpuSeconds: NaN, note: "lwIP 2.1.3 (Debian), 64 KiB window, bench's TAP driver" };
}

async function lwipSend(ns: Netns, binary: string, bytes: number): Promise<Row> {
  const sink = ns.spawn("sh", ["-c", `socat -u TCP-LISTEN:5004,reuseaddr - | wc -c`]);
  await new Promise((r) => setTimeout(r, 300));
  const p = ns.spawn(binary, ["send", KERNEL, "5004", String(bytes)], { env: { ...process.env, PRECONFIGURED_TAPIF: ns.tap } });
  try {
    await p.waitFor(/"seconds"/, 60_000);
    const m = await sink.waitFor(/^\s*(\d+)\s*$/m, 30_000);
    const r = lwipResult(p.output());
    return { name: "lwIP → kernel (lwIP sends)", bytes: Number(m[1]), seconds: r.seconds, cpuSeconds: NaN, note: "lwIP 2.1.3 (Debian), bench's TAP driver" };
  } finally {
    await p.stop();
    await sink.stop();
  }
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.error(`bench:tcp needs network namespaces: ${why}`);
    process.exit(1);
  }
  const mb = Number(process.env.MB ?? 100);
  const bytes = mb * 1_000_000;
  const rows: Row[] = [];
  const lwipFailures: string[] = [];
  let ceilingBps = 0;
  await withNetns(
    async (ns) => {
      const c = await measureTapRx(ns, { frames: 50_000, frameSize: 1514 });
      ceilingBps = c.bitsPerSecond * (1460 / 1514);
      rows.push({ name: "raw TAP ceiling (kernel → JS, 1514-byte frames, TCP payload share)", bytes: c.frames * 1460, seconds: c.seconds, cpuSeconds: c.readerCpuSeconds, note: "tap-blaster, no stack" });
      for (const offload of [false, true]) {
        rows.push(await oasisReceive(ns, bytes, offload));
        rows.push(await oasisSend(ns, bytes, offload));
      }
      const dir = mkdtempSync(join(tmpdir(), "oasis-bench-lwip-"));
      try {
        const lwip = buildLwip(dir);
        if (lwip) {
          for (const run of [lwipReceive, lwipSend]) {
            try {
              rows.push(await run(ns, lwip, bytes));
            } catch (e) {
              lwipFailures.push(e instanceof Error ? e.message.split("\n").slice(0, 3).join(" ") : String(e));
            }
          }
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 600_000 },
  );
  console.log(`Oasis TCP over a TAP against the Linux kernel, ${mb} MB per transfer\n`);
  const lwipRate = (name: string) => {
    const r = rows.find((x) => x.name.startsWith(name));
    return r ? (r.bytes * 8) / r.seconds : NaN;
  };
  const lwipRecv = lwipRate("kernel → lwIP");
  const lwipSendRate = lwipRate("lwIP → kernel");
  console.log("| what | MB | seconds | Mbit/s | vs TAP ceiling | vs lwIP same direction | MB per CPU-s | notes |");
  console.log("|------|---:|--------:|-------:|---------------:|-----------------------:|-------------:|-------|");
  for (const r of rows) {
    const bps = (r.bytes * 8) / r.seconds;
    const vsLwip = r.name.includes("Oasis receives") ? bps / lwipRecv : r.name.includes("Oasis sends") ? bps / lwipSendRate : NaN;
    console.log(
      `| ${r.name} | ${(r.bytes / 1e6).toFixed(1)} | ${r.seconds.toFixed(2)} | ${(bps / 1e6).toFixed(0)} | ${(bps / ceilingBps).toFixed(2)}× | ${Number.isNaN(vsLwip) ? "" : vsLwip.toFixed(2) + "×"} | ${Number.isNaN(r.cpuSeconds) ? "" : (r.bytes / 1e6 / r.cpuSeconds).toFixed(0)} | ${r.note} |`,
    );
  }
  for (const f of lwipFailures) console.log(`\nlwIP comparison failed: ${f}`);
  const cpu = spawnSync("nproc", { encoding: "utf8" }).stdout.trim();
  console.log(`\n${cpu} CPUs; node ${process.version}. The ceiling counts only frames into JS; TCP also sends ACKs back.`);
}

await main();
