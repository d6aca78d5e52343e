// npm run bench:http — requests/s of the static-website example (oasis/http on the socket stack,
// htdocs crunched into the executable) against a plain Node `http` server serving the same file
// from memory, measured in the same run with wrk (keep-alive). Target: website ≥ 70 % of Node.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildExample, repoRoot } from "../../../test/support/unikernel.ts";

const seconds = Number(process.env.SECONDS_PER_RUN ?? 5);
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

function wrk(port: number, pid: number): Result {
  const cpu0 = cpuSeconds(pid);
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}${path}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed (is it installed? .ci/setup-debian.sh):\n${r.stdout}${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const p99 = /^\s+99%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout)?.[0] ?? "none";
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${r.stdout}`);
  const requests = Number(/(\d+) requests in/.exec(r.stdout)?.[1]);
  const cpuUs = ((cpuSeconds(pid) - cpu0) * 1e6) / requests;
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

async function startServer(name: string, start: (port: number) => ChildProcess): Promise<{ name: string; port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = start(port);
  await waitForPort(port);
  wrk(port, child.pid!); // warm-up: JIT and connection set-up
  return { name, port, child };
}

const { bin } = await buildExample("examples/applications/static-website", ["--kv-ro=crunch"]);
const file = join(repoRoot, "examples/applications/static-website/htdocs", path);

const servers = [
  await startServer("node http", (port) => spawn(process.execPath, ["-e", NODE_SERVER, file, String(port)], { stdio: "inherit" })),
  await startServer("static-website", (port) => spawn(bin, [`--port=${port}`, "-l", "*:warning"], { stdio: "inherit" })),
];
// Rounds alternate between the servers so that load from elsewhere on the machine hits both.
const node: Result[] = [];
const website: Result[] = [];
try {
  for (let i = 0; i < rounds; i++) {
    node.push(wrk(servers[0]!.port, servers[0]!.child.pid!));
    website.push(wrk(servers[1]!.port, servers[1]!.child.pid!));
    const [n, w] = [node.at(-1)!, website.at(-1)!];
    process.stderr.write(`round ${i + 1}: node ${n.rps.toFixed(0)} req/s (${n.cpuUs.toFixed(0)} µs CPU/req), website ${w.rps.toFixed(0)} req/s (${w.cpuUs.toFixed(0)} µs CPU/req)\n`);
  }
} finally {
  for (const s of servers) {
    s.child.kill("SIGTERM");
    await once(s.child, "close");
  }
}

const best = (rs: Result[]) => rs.reduce((a, b) => (b.rps > a.rps ? b : a));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const n = best(node);
const w = best(website);
const medianCpu = (rs: Result[]) => median(rs.map((r) => r.cpuUs));
const rows = [
  ["server", "best req/s", "median req/s", "CPU µs/req", "p50", "p99", "errors", "ratio (best)"],
  ["node:http (baseline)", n.rps.toFixed(0), median(node.map((r) => r.rps)).toFixed(0), medianCpu(node).toFixed(1), n.p50, n.p99, n.errors, "1.00"],
  ["static-website (oasis/http, socket stack)", w.rps.toFixed(0), median(website.map((r) => r.rps)).toFixed(0), medianCpu(website).toFixed(1), w.p50, w.p99, w.errors, (w.rps / n.rps).toFixed(2)],
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`\nGET ${path}, wrk -t1 -c${connections}, ${rounds} alternating rounds × ${seconds} s after a warm-up\n`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
const ratio = w.rps / n.rps;
const paired = median(node.map((r, i) => website[i]!.rps / r.rps));
const efficiency = medianCpu(node) / medianCpu(website);
console.log(`\nwebsite / node = ${(ratio * 100).toFixed(0)} % best-to-best, ${(paired * 100).toFixed(0)} % median of paired rounds (target ≥ 70 %): ${ratio >= 0.7 ? "met" : "NOT met"}`);
console.log(`CPU per request, node / website = ${(efficiency * 100).toFixed(0)} % (the same comparison, insensitive to other load on the machine)`);
