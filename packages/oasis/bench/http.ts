// npm run bench:http — requests/s of the static-website example (oasis/http, htdocs crunched into
// the executable) on the socket stack and on Oasis's own TCP/IP stack (--net=direct, over a TAP in
// a network namespace), against a plain Node `http` server serving the same file from memory, all
// measured in the same run with wrk (keep-alive). Target: socket-stack website ≥ 70 % of Node.
// The direct stack is reached through the TAP, so wrk runs inside the namespace for it (the others
// over the host's loopback); without root or /dev/net/tun that row is skipped and says why.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildExample, repoRoot } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns, type Netns } from "../../../test/support/netns.ts";

const seconds = Number(process.env.SECONDS_PER_RUN ?? 4);
const rounds = Number(process.env.ROUNDS ?? 3);
const connections = Number(process.env.CONNECTIONS ?? 32);
const path = "/index.html";

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const s = net.connect(port, "127.0.0.1");
    try {
      await once(s, "connect");
      s.destroy();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

interface Result {
  rps: number;
  /** CPU time (user + system) the server spent per request: robust to load from elsewhere. */
  cpuUs: number;
  p50: string;
  p99: string;
  errors: string;
}

/** User + system CPU seconds of a process, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** A server under test: where wrk reaches it, from which namespace, and its process for CPU time. */
interface Target {
  name: string;
  /** For the per-round progress lines. */
  short: string;
  url: string;
  pid: number;
  /** Network namespace wrk runs in (the direct stack is only reachable through the TAP). */
  netns?: string;
}

function wrk(t: Target): Result {
  const cpu0 = cpuSeconds(t.pid);
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", t.url];
  const r = t.netns ? spawnSync("ip", ["netns", "exec", t.netns, "wrk", ...args], { encoding: "utf8" }) : spawnSync("wrk", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed (is it installed? .ci/setup-debian.sh):\n${r.stdout}${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const p99 = /^\s+99%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout)?.[0] ?? "none";
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${r.stdout}`);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const cpuUs = ((cpuSeconds(t.pid) - cpu0) * 1e6) / requests;
  return { rps, cpuUs, p50, p99, errors };
}

const NODE_SERVER = `
const http = require("node:http");
const fs = require("node:fs");
const body = fs.readFileSync(process.argv[1]);
http.createServer((req, res) => {
  if (req.url !== ${JSON.stringify(path)}) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": body.length });
  res.end(body);
}).listen(Number(process.argv[2]), "127.0.0.1");
`;

async function startServer(name: string, short: string, start: (port: number) => ChildProcess): Promise<{ target: Target; child: ChildProcess }> {
  const port = await freePort();
  const child = start(port);
  await waitForPort(port);
  const target = { name, short, url: `http://127.0.0.1:${port}${path}`, pid: child.pid! };
  wrk(target); // warm-up: JIT and connection set-up
  return { target, child };
}

/** The direct-stack website in `ns`, at 192.0.2.2:80 behind the TAP. */
async function startDirect(ns: Netns, bin: string): Promise<Target> {
  const u = ns.run(bin, ["--ipv4=192.0.2.2/24", "--port=80", "-l", "*:warning"]);
  // Warnings only: a served page is the sign that it is up.
  for (let i = 0; ; i++) {
    const r = await ns.exec("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", `http://192.0.2.2${path}`], { check: false });
    if (r.stdout === "200") break;
    if (i === 100) throw new Error(`the direct-stack website does not answer:\n${u.output()}${r.stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // ip netns exec execs the unikernel, whose shebang execs node: the same pid throughout.
  const target = { name: "static-website (oasis/http, Oasis TCP/IP over TAP)", short: "website/direct", url: `http://192.0.2.2${path}`, pid: u.pid, netns: ns.name };
  wrk(target);
  return target;
}

const [{ bin }, direct] = await Promise.all([
  buildExample("examples/applications/static-website", ["--kv-ro=crunch"]),
  buildExample("examples/applications/static-website", ["--kv-ro=crunch", "--net=direct"]),
]);
const file = join(repoRoot, "examples/applications/static-website/htdocs", path);
const skipDirect = netnsUnavailable();

async function measure(ns?: Netns): Promise<{ targets: Target[]; results: Result[][] }> {
  const servers = [
    await startServer("node:http (baseline)", "node", (port) => spawn(process.execPath, ["-e", NODE_SERVER, file, String(port)], { stdio: "inherit" })),
    await startServer("static-website (oasis/http, socket stack)", "website/socket", (port) => spawn(bin, [`--port=${port}`, "-l", "*:warning"], { stdio: "inherit" })),
  ];
  const targets = servers.map((s) => s.target);
  try {
    if (ns) targets.push(await startDirect(ns, direct.bin));
    // Rounds alternate between the servers so that load from elsewhere on the machine hits all.
    const results: Result[][] = targets.map(() => []);
    for (let i = 0; i < rounds; i++) {
      const line = targets.map((t, j) => {
        const r = wrk(t);
        results[j]!.push(r);
        return `${t.short} ${r.rps.toFixed(0)} req/s (${r.cpuUs.toFixed(0)} µs CPU/req)`;
      });
      process.stderr.write(`round ${i + 1}: ${line.join(", ")}\n`);
    }
    return { targets, results };
  } finally {
    for (const s of servers) {
      s.child.kill("SIGTERM");
      await once(s.child, "close");
    }
  }
}

const { targets, results } = skipDirect ? await measure() : await withNetns((ns) => measure(ns), { kernelAddress: "192.0.2.1/24", timeoutMs: 240_000 });

const best = (rs: Result[]) => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const medianCpu = (rs: Result[]) => median(rs.map((r) => r.cpuUs));
const node = results[0]!;
const n = best(node);
const rows = [["server", "best req/s", "median req/s", "CPU µs/req", "p50", "p99", "errors", "ratio (best)", "ratio (paired median)"]];
targets.forEach((t, i) => {
  const rs = results[i]!;
  const b = best(rs);
  const paired = median(node.map((r, k) => rs[k]!.rps / r.rps));
  rows.push([t.name, b.rps.toFixed(0), median(rs.map((r) => r.rps)).toFixed(0), medianCpu(rs).toFixed(1), b.p50, b.p99, b.errors, (b.rps / n.rps).toFixed(2), paired.toFixed(2)]);
});
if (skipDirect) rows.push(["static-website (oasis/http, Oasis TCP/IP over TAP)", "skipped", "", "", "", "", "", "", skipDirect]);
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`\nGET ${path}, wrk -t1 -c${connections}, ${rounds} alternating rounds × ${seconds} s after a warm-up; ratios against node:http\n`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
const w = results[1]!;
const ratio = best(w).rps / n.rps;
const paired = median(node.map((r, i) => w[i]!.rps / r.rps));
const efficiency = medianCpu(node) / medianCpu(w);
console.log(`\nwebsite / node = ${(ratio * 100).toFixed(0)} % best-to-best, ${(paired * 100).toFixed(0)} % median of paired rounds (target ≥ 70 %): ${ratio >= 0.7 ? "met" : "NOT met"}`);
console.log(`CPU per request, node / website = ${(efficiency * 100).toFixed(0)} % (the same comparison, insensitive to other load on the machine)`);
if (!skipDirect) {
  const d = results[2]!;
  const directVsSocket = median(w.map((r, i) => d[i]!.rps / r.rps));
  console.log(`direct stack / socket stack (same website) = ${(directVsSocket * 100).toFixed(0)} % median of paired rounds; CPU per request ${medianCpu(d).toFixed(1)} µs vs ${medianCpu(w).toFixed(1)} µs (user + system time of each server process; kernel work in softirq context, for either, is charged elsewhere)`);
}
