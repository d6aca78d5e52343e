// bench:tcp-faults — Oasis TCP against the Linux kernel through netem-like impairment (this kernel
// has no netem qdisc: withFaults applies it on Oasis's side of the TAP, to frames in both
// directions): loss 5 %, reorder 1 %, duplicate 1 %, 20 ms delay each way (40 ms RTT). Each
// direction with SACK on and off (off: Oasis does not offer or accept SACK-permitted, so neither
// end uses it), every transfer checked by sha256 at both ends. Prints throughput and the SACK
// on/off ratio.
//
//   npm run bench:tcp-faults          (MB=20 per transfer by default)
//   ONLY=send|receive                 one direction only (to iterate on one side faster)
//   NSTAT=1                           after each transfer, the kernel's recovery/undo counters
//   PURE=1                            loss and delay only (no reordering or duplication): how
//                                     each sender turns random loss into window reductions
//
// 20 MB per transfer takes about 6 minutes, most of it Oasis sending at about 1 Mbit/s; 100 MB would
// take about half an hour, so 20 MB is the largest size that finishes in a few minutes.
import { createHash, randomBytes } from "node:crypto";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";
import type { TcpFlow } from "../src/devices/tcp.ts";
import { withFaults, type FaultOptions, type FaultStats } from "../src/net/phy/index.ts";
import { ipv4Stack } from "../src/net/stack/direct.ts";
import { createTcp, type TcpStack, type TcpStats } from "../src/net/tcp/index.ts";
import type { Net } from "../src/devices/net.ts";

const OURS = "192.0.2.2";
const KERNEL = "192.0.2.1";
const IMPAIRMENT: FaultOptions = process.env.PURE ? { loss: 0.05, delayMs: 20 } : { loss: 0.05, reorder: 0.01, duplicate: 0.01, delayMs: 20 };

interface Row {
  direction: "kernel → Oasis" | "Oasis → kernel";
  sack: boolean;
  bytes: number;
  seconds: number;
  exact: boolean;
  tcp: TcpStats;
  faults: FaultStats;
}

function tcpOver(net: Net, sack: boolean): TcpStack {
  let tcp: TcpStack | null = null;
  ipv4Stack(net, { cidr: `${OURS}/24`, tcp: (ip) => (tcp = createTcp(ip, { sack })) });
  return tcp!;
}

async function receive(ns: Netns, bytes: number, sack: boolean, seed: number): Promise<Row> {
  const tap = ns.openTap();
  const faulty = withFaults(tap, { ...IMPAIRMENT, seed });
  const tcp = tcpOver(faulty, sack);
  let start = 0;
  const got = new Promise<{ n: number; sha: string; end: number }>((resolve) => {
    tcp.listen(5001, async (flow: TcpFlow) => {
      const h = createHash("sha256");
      let n = 0;
      start = performance.now();
      for (;;) {
        const c = await flow.read();
        if (c === null) break;
        n += c.length;
        h.update(c);
      }
      const end = performance.now();
      await flow.close();
      resolve({ n, sha: h.digest("hex"), end });
    });
  });
  const f = `${ns.tmpDir}/payload`;
  const r = await ns.exec("sh", ["-c", `head -c ${bytes} /dev/urandom > ${f} && socat -u FILE:${f} TCP:${OURS}:5001 && sha256sum < ${f} && rm -f ${f}`], { timeoutMs: 3_600_000 });
  const g = await got;
  await waitEmpty(tcp);
  await faulty.disconnect();
  return { direction: "kernel → Oasis", sack, bytes: g.n, seconds: (g.end - start) / 1000, exact: g.n === bytes && g.sha === r.stdout.split(" ")[0], tcp: tcp.stats(), faults: faulty.faultStats() };
}

async function send(ns: Netns, bytes: number, sack: boolean, seed: number): Promise<Row> {
  const sink = ns.spawn("sh", ["-c", `socat -u TCP-LISTEN:5002,reuseaddr - | python3 -c "import sys,hashlib; h=hashlib.sha256(); n=0\nfor b in iter(lambda: sys.stdin.buffer.read(1<<20), b''): h.update(b); n+=len(b)\nprint('bytes',n,'sha',h.hexdigest(),flush=True)"`]);
  while (!(await ns.exec("ss", ["-Hltn", "sport = :5002"])).stdout.includes(":5002")) await new Promise((r) => setTimeout(r, 20));
  const tap = ns.openTap();
  const faulty = withFaults(tap, { ...IMPAIRMENT, seed });
  const tcp = tcpOver(faulty, sack);
  const flow = await tcp.connect(KERNEL, 5002);
  const h = createHash("sha256");
  const start = performance.now();
  for (let sent = 0; sent < bytes; ) {
    const chunk = randomBytes(Math.min(256 * 1024, bytes - sent));
    h.update(chunk);
    await flow.write(chunk);
    sent += chunk.length;
  }
  await flow.close();
  // Done when the kernel has everything: its sink prints after our FIN.
  const m = await sink.waitFor(/bytes (\d+) sha ([0-9a-f]{64})/, 3_600_000);
  const end = performance.now();
  await waitEmpty(tcp);
  await faulty.disconnect();
  await sink.stop();
  return { direction: "Oasis → kernel", sack, bytes: Number(m[1]), seconds: (end - start) / 1000, exact: Number(m[1]) === bytes && m[2] === h.digest("hex"), tcp: tcp.stats(), faults: faulty.faultStats() };
}

async function waitEmpty(tcp: TcpStack): Promise<void> {
  const end = Date.now() + 30_000;
  while (tcp.stats().connectionCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
}

async function main(): Promise<void> {
  const why = netnsUnavailable();
  if (why) {
    console.error(`bench:tcp-faults needs network namespaces: ${why}`);
    process.exit(1);
  }
  const mb = Number(process.env.MB ?? 20);
  const bytes = Math.round(mb * 1_000_000);
  const rows: Row[] = [];
  await withNetns(
    async (ns) => {
      // Every run starts from the same state: the kernel must not reuse a cached ssthresh.
      await ns.exec("sysctl", ["-q", "-w", "net.ipv4.tcp_no_metrics_save=1"]);
      let seed = 1;
      const only = process.env.ONLY;
      for (const run of [receive, send]) {
        for (const sack of [true, false]) {
          if ((only === "send" && run === receive) || (only === "receive" && run === send)) {
            seed++;
            continue;
          }
          await ns.exec("ip", ["tcp_metrics", "flush", "all"], { check: false });
          if (process.env.NSTAT) await ns.exec("nstat", ["-n"], { check: false });
          const row = await run(ns, bytes, sack, seed++);
          rows.push(row);
          console.error(`${row.direction} SACK ${sack ? "on" : "off"}: ${((row.bytes * 8) / row.seconds / 1e6).toFixed(2)} Mbit/s`);
          if (process.env.NSTAT) {
            const n = await ns.exec("nstat", [], { check: false });
            console.error(n.stdout.split("\n").filter((l) => /Undo|Recover|Loss|Retrans|Reorder|DSACK|SACK|Timeout|TLP|Spurious/i.test(l)).join("\n"));
          }
        }
      }
    },
    { kernelAddress: `${KERNEL}/24`, timeoutMs: 4 * 3_600_000 },
  );
  console.log(`Oasis TCP against the Linux kernel through loss 5 %${process.env.PURE ? "" : ", reorder 1 %, duplicate 1 %"}, delay 20 ms (both directions, withFaults on Oasis's side), ${mb} MB per transfer\n`);
  console.log("| direction | SACK | MB | seconds | Mbit/s | vs SACK off | sha256 | retransmits | fast recoveries | RTO expiries | frames lost / reordered / duplicated |");
  console.log("|-----------|------|---:|--------:|-------:|------------:|--------|------------:|----------------:|-------------:|--------------------------------------|");
  for (const r of rows) {
    const bps = (r.bytes * 8) / r.seconds;
    const off = rows.find((x) => x.direction === r.direction && !x.sack);
    const ratio = off ? bps / ((off.bytes * 8) / off.seconds) : NaN;
    console.log(
      `| ${r.direction} | ${r.sack ? "on" : "off"} | ${(r.bytes / 1e6).toFixed(1)} | ${r.seconds.toFixed(1)} | ${(bps / 1e6).toFixed(2)} | ${ratio.toFixed(2)}× | ${r.exact ? "equal" : "DIFFERENT"} | ${r.tcp.retransmits} | ${r.tcp.fastRecoveries} | ${r.tcp.rtoExpiries} | ${r.faults.lost} / ${r.faults.reordered} / ${r.faults.duplicated} |`,
    );
  }
  console.log(`\nnode ${process.version}. Seconds run from the first byte to the last byte at the receiver.`);
  if (rows.some((r) => !r.exact)) {
    console.error("a transfer was not byte-exact");
    process.exit(1);
  }
}

await main();
