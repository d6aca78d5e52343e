// npm run bench:http — requests/s of the static-website example (oasis/http on the socket stack,
// htdocs crunched into the executable) against a plain Node `http` server serving the same file
// from memory, measured in the same run with wrk (keep-alive). Target: website ≥ 70 % of Node.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import * as net from "node:net";
import { once } from "node:events";
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
  p50: string;
  p99: string;
  errors: string;
}

function wrk(port: number): Result {
  const r = spawnSync("wrk", ["-t1", `-c${connections}`, `-d${seconds}s`, "--latency", `http://127.0.0.1:${port}${path}`], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrk failed (is it installed? .ci/setup-debian.sh):\n${r.stdout}${r.stderr}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1]);
  const p50 = /^\s+50%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const p99 = /^\s+99%\s+(\S+)/m.exec(r.stdout)?.[1] ?? "?";
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(r.stdout)?.[0] ?? "none";
  if (!Number.isFinite(rps)) throw new Error(`cannot read wrk's output:\n${r.stdout}`);
  return { rps, p50, p99, errors };
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
  wrk(port); // warm-up: JIT and connection set-up
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
    node.push(wrk(servers[0]!.port));
    website.push(wrk(servers[1]!.port));
    process.stderr.write(`round ${i + 1}: node ${node.at(-1)!.rps.toFixed(0)} req/s, website ${website.at(-1)!.rps.toFixed(0)} req/s\n`);
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
const rows = [
  ["server", "best req/s", "median req/s", "p50", "p99", "errors", "ratio (best)"],
  ["node:http (baseline)", n.rps.toFixed(0), median(node.map((r) => r.rps)).toFixed(0), n.p50, n.p99, n.errors, "1.00"],
  ["static-website (oasis/http, socket stack)", w.rps.toFixed(0), median(website.map((r) => r.rps)).toFixed(0), w.p50, w.p99, w.errors, (w.rps / n.rps).toFixed(2)],
];
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
console.log(`\nGET ${path}, wrk -t1 -c${connections}, ${rounds} alternating rounds × ${seconds} s after a warm-up\n`);
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  "));
const ratio = w.rps / n.rps;
const paired = median(node.map((r, i) => website[i]!.rps / r.rps));
console.log(`\nwebsite / node = ${(ratio * 100).toFixed(0)} % best-to-best, ${(paired * 100).toFixed(0)} % median of paired rounds (target ≥ 70 %): ${ratio >= 0.7 ? "met" : "NOT met"}`);
