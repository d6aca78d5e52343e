// End to end against real collectors: InfluxDB 1.x (its UDP listener, the points read back over
// its HTTP /query API), a plain TCP listener standing in for Telegraf's socket_listener, and the
// control port, on the host's sockets and on Oasis's own stack in a network namespace.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { buildExample, freePort, runUnikernel, startUnikernel } from "../../../test/support/unikernel.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";
import { parseLines, type ParsedLine } from "../../../packages/oasis/src/metrics/line-protocol.fixture.ts";

const EXAMPLE = "examples/device-usage/monitoring";

function influxdUnavailable(): string | undefined {
  const r = spawnSync("influxd", ["version"], { encoding: "utf8" });
  if (r.status !== 0) return "influxd is not installed (apt-get install influxdb, or run .ci/setup-debian.sh)";
  return undefined;
}

let socketBuild: Promise<{ dir: string; bin: string }> | undefined;
const buildSocket = () => (socketBuild ??= buildExample(EXAMPLE));

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function visit(host: string, port: number): Promise<string> {
  const s = net.connect(port, host);
  await once(s, "connect");
  let out = "";
  for await (const d of s) out += d;
  return out;
}

/** One control command, one reply (the connection carries nothing else). */
async function ask(port: number, command: string): Promise<string> {
  const s = net.connect(port, "127.0.0.1");
  await once(s, "connect");
  s.end(command + "\n");
  let out = "";
  for await (const d of s) out += d;
  assert.ok(out.endsWith("\n") && out.indexOf("\n") === out.length - 1, `one line back, got ${JSON.stringify(out)}`);
  return out.trimEnd();
}

/** Complete lines received so far, parsed strictly (a malformed line fails the test). */
function completeLines(text: string): ParsedLine[] {
  return parseLines(text.slice(0, text.lastIndexOf("\n") + 1));
}

function checkPoint(l: ParsedLine, vm: string): void {
  assert.equal(l.tags.vm, vm, `vm tag of ${l.measurement}`);
  assert.ok(l.timestamp !== null && Math.abs(Number(l.timestamp / 1_000_000n) - Date.now()) < 120_000, `timestamp ${l.timestamp} is now, in nanoseconds`);
  for (const [k, v] of Object.entries(l.fields)) assert.ok(v.kind === "int" || v.kind === "float", `${l.measurement}.${k} is numeric`);
}

test("socket stack: a Telegraf-style TCP listener reads strict line protocol; the control port sets log levels and metrics", async () => {
  const { bin } = await buildSocket();
  const conns: Array<{ socket: net.Socket; text: string }> = [];
  const collector = net.createServer((socket) => {
    const c = { socket, text: "" };
    conns.push(c);
    socket.setEncoding("utf8").on("data", (d: string) => (c.text += d));
  });
  collector.listen(0, "127.0.0.1");
  await once(collector, "listening");
  const [port, control] = [await freePort(), await freePort()];
  const u = startUnikernel(bin, [
    `--port=${port}`,
    `--monitor=127.0.0.1:${(collector.address() as net.AddressInfo).port}`,
    "--monitor-interval=0.2",
    "--monitor-hostname=e2e vm",
    `--monitor-control-port=${control}`,
  ]);
  try {
    await u.waitFor(/greeting on port \d+; metrics are pushed/);
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 1\n");
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 2\n");
    const lines = await until("two visits in the pushed metrics", async () => {
      const all = completeLines(conns[0]?.text ?? "");
      return all.some((l) => l.measurement === "greeter" && l.fields.visits?.value === 2n) ? all : undefined;
    });
    assert.equal(conns.length, 1, "one persistent connection");
    assert.deepEqual(new Set(lines.map((l) => l.measurement)), new Set(["memory", "greeter"]));
    for (const l of lines) checkPoint(l, "e2e vm");
    const mem = lines.find((l) => l.measurement === "memory")!;
    for (const k of ["rss", "heap_used", "heap_total", "external"]) assert.equal(mem.fields[k]?.kind, "int", `memory.${k}`);

    // Log levels: the greeter's debug line appears only once L asked for it.
    assert.equal(await ask(control, "lgreeter"), "ok: greeter:info");
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 3\n");
    assert.equal(await ask(control, "Lgreeter:debug"), "ok");
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 4\n");
    await u.waitFor(/DBG \[greeter\] visitor 4 from 127\.0\.0\.1:\d+/, 10_000);
    assert.doesNotMatch(u.output(), /visitor 3 from/);
    assert.equal(await ask(control, "l"), "ok: *:info,greeter:debug");

    // Metrics: listed, then memory switched off and gone from what is pushed next.
    assert.equal(await ask(control, "m"), "ok: *:enable");
    assert.equal(await ask(control, "m*"), "ok: memory:enable,greeter:enable");
    assert.equal(await ask(control, "Mmemory:disable"), "ok");
    assert.equal(await ask(control, "mmemory"), "ok: memory:disable");
    await new Promise((r) => setTimeout(r, 600)); // a push already under way may still carry memory
    const mark = completeLines(conns[0]!.text).length;
    const after = await until("three pushes after memory was disabled", async () => {
      const more = completeLines(conns[0]!.text).slice(mark);
      return more.length >= 3 ? more : undefined;
    });
    assert.deepEqual(new Set(after.map((l) => l.measurement)), new Set(["greeter"]));

    // Bad commands: an error line each, and the unikernel carries on.
    assert.match(await ask(control, "X"), /^error: unknown command 'X'/);
    assert.match(await ask(control, "Mnosuch:on"), /^error: unknown metrics source 'nosuch' \(known: memory, greeter\)/);
    assert.match(await ask(control, "L*:loud"), /^error: unknown level 'loud'/);
    assert.match(await ask(control, "mnosuch"), /^error: unknown metrics source nosuch/);
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 5\n");

    // The collector drops the connection: the next push opens a new one.
    conns[0]!.socket.destroy();
    await until("a second connection", async () => (conns.length >= 2 && completeLines(conns[1]!.text).length > 0 ? true : undefined));
    for (const l of completeLines(conns[1]!.text)) checkPoint(l, "e2e vm");
  } finally {
    await u.stop();
    for (const c of conns) c.socket.destroy();
    collector.close();
  }
});

interface Influx {
  query(q: string): Promise<{ results: Array<{ series?: Array<{ name: string; columns: string[]; values: unknown[][]; tags?: Record<string, string> }>; error?: string }> }>;
}

function influxConfig(dir: string, host: string, ports: { http: number; udp: number; rpc: number }): string {
  const file = join(dir, "influxdb.conf");
  writeFileSync(
    file,
    `reporting-disabled = true
bind-address = "127.0.0.1:${ports.rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "${host}:${ports.http}"
  log-enabled = false
[[udp]]
  enabled = true
  bind-address = "${host}:${ports.udp}"
  database = "oasis"
  batch-timeout = "50ms"
`,
  );
  return file;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4").bind(0, "127.0.0.1");
  await once(s, "listening");
  const port = s.address().port;
  s.close();
  return port;
}

/** The rows of a single-series answer as objects (column → value). */
function rows(answer: Awaited<ReturnType<Influx["query"]>>): Array<Record<string, unknown>> {
  const r = answer.results[0]!;
  if (r.error) throw new Error(`InfluxDB: ${r.error}`);
  return (r.series ?? []).flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))));
}

test("socket stack → InfluxDB's UDP listener: the points are stored with their types and the vm tag", { skip: influxdUnavailable() }, async () => {
  const { bin } = await buildSocket();
  const dir = mkdtempSync(join(tmpdir(), "oasis-influx-"));
  const ports = { http: await freePort(), udp: await freeUdpPort(), rpc: await freePort() };
  const influxd = startUnikernel("influxd", ["run", "-config", influxConfig(dir, "127.0.0.1", ports)]);
  const influx: Influx = {
    async query(q) {
      const r = await fetch(`http://127.0.0.1:${ports.http}/query?db=oasis&q=${encodeURIComponent(q)}`);
      return (await r.json()) as never;
    },
  };
  const port = await freePort();
  const u = startUnikernel(bin, [`--port=${port}`, `--monitor=udp:127.0.0.1:${ports.udp}`, "--monitor-interval=0.2", "--monitor-hostname=influx-e2e", "--monitor-control-port=0"]);
  try {
    await until("influxd to answer /ping", async () => ((await fetch(`http://127.0.0.1:${ports.http}/ping`).catch(() => null))?.status === 204 ? true : undefined));
    await u.waitFor(/greeting on port/);
    assert.equal(await visit("127.0.0.1", port), "hello, visitor 1\n");
    const greeter = await until("the visit stored in InfluxDB", async () => {
      const r = await influx.query(`SELECT * FROM greeter WHERE vm = 'influx-e2e' ORDER BY time DESC LIMIT 1`).catch(() => null);
      const row = r && !r.results[0]?.error ? rows(r)[0] : undefined;
      return row && row.visits === 1 ? row : undefined;
    });
    assert.equal(greeter.bytes_sent, "hello, visitor 1\n".length);
    const mem = rows(await influx.query(`SELECT * FROM memory WHERE vm = 'influx-e2e' ORDER BY time DESC LIMIT 1`))[0]!;
    assert.ok(typeof mem.rss === "number" && mem.rss > 1_000_000, `rss ${mem.rss}`);
    assert.ok(typeof mem.heap_used === "number" && mem.heap_used > 0);
    const types = Object.fromEntries(rows(await influx.query("SHOW FIELD KEYS FROM memory")).map((r) => [r.fieldKey, r.fieldType]));
    assert.equal(types.rss, "integer");
    assert.equal(types.heap_used, "integer");
    const vms = rows(await influx.query(`SHOW TAG VALUES FROM memory WITH KEY = "vm"`)).map((r) => r.value);
    assert.deepEqual(vms, ["influx-e2e"]);
  } finally {
    await u.stop();
    await influxd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Oasis's own stack in a namespace → InfluxDB: memory, tcp and net measurements; control port over the direct stack", { skip: netnsUnavailable() ?? influxdUnavailable() }, async () => {
  const { bin } = await buildExample(EXAMPLE, ["--net=direct"]);
  await withNetns(
    async (ns) => {
      // A fresh namespace: these ports are free in it whatever the host runs.
      const ports = { http: 18086, udp: 18089, rpc: 18088 };
      const influxd = ns.spawn("influxd", ["run", "-config", influxConfig(ns.tmpDir, "192.0.2.1", ports)]);
      const influx: Influx = {
        async query(q) {
          const r = await ns.exec("curl", ["-sfG", `http://192.0.2.1:${ports.http}/query`, "--data-urlencode", "db=oasis", "--data-urlencode", `q=${q}`], { check: false });
          return r.code === 0 ? JSON.parse(r.stdout) : { results: [{ error: `curl exit ${r.code}` }] };
        },
      };
      await until("influxd to answer /ping", async () => ((await ns.exec("curl", ["-sf", `http://192.0.2.1:${ports.http}/ping`], { check: false })).code === 0 ? true : undefined));
      const u = ns.run(bin, ["--ipv4=192.0.2.2/24", `--monitor=udp:192.0.2.1:${ports.udp}`, "--monitor-interval=0.2", "--monitor-hostname=direct-e2e"]);
      await u.waitFor(/greeting on port 8080; metrics are pushed/, 30_000);
      const hello = await ns.exec("socat", ["-", "TCP:192.0.2.2:8080,retry=5"], { input: "" });
      assert.equal(hello.stdout, "hello, visitor 1\n");
      await until("memory, tcp, net and greeter measurements", async () => {
        const names = new Set(rows(await influx.query("SHOW MEASUREMENTS")).map((r) => r.name));
        return ["memory", "tcp", "net", "greeter"].every((m) => names.has(m)) ? true : undefined;
      });
      const tcp = await until("the visit counted by TCP", async () => {
        const row = rows(await influx.query(`SELECT * FROM tcp WHERE vm = 'direct-e2e' ORDER BY time DESC LIMIT 1`))[0];
        return row && (row.passive_opens as number) >= 1 ? row : undefined;
      });
      assert.equal(tcp.stack, "default");
      assert.ok((tcp.segments_in as number) >= 3 && (tcp.segments_out as number) >= 2, `segments ${tcp.segments_in}/${tcp.segments_out}`);
      assert.ok((tcp.bytes_out as number) >= "hello, visitor 1\n".length);
      const netRow = rows(await influx.query(`SELECT * FROM net WHERE vm = 'direct-e2e' ORDER BY time DESC LIMIT 1`))[0]!;
      assert.equal(netRow.interface, ns.tap);
      assert.ok((netRow.rx_packets as number) > 0 && (netRow.tx_packets as number) > 0 && (netRow.rx_bytes as number) > 0);
      const types = Object.fromEntries(rows(await influx.query("SHOW FIELD KEYS FROM tcp")).map((r) => [r.fieldKey, r.fieldType]));
      assert.equal(types.segments_in, "integer");
      // The control port on the same stack, from the kernel side of the TAP.
      const m = await ns.exec("socat", ["-", "TCP:192.0.2.2:2323"], { input: "m*\n" });
      assert.equal(m.stdout, `ok: memory:enable,greeter:enable,net{interface=${ns.tap}}:enable,tcp{stack=default}:enable\n`);
      const bad = await ns.exec("socat", ["-", "TCP:192.0.2.2:2323"], { input: "Mtcp:sometimes\n" });
      assert.match(bad.stdout, /^error: 'tcp:sometimes': expected enable or disable/);
      await u.stop();
      await influxd.stop();

      // TCP push from the direct stack: socat in Telegraf's place keeps what one connection brings.
      const file = join(ns.tmpDir, "pushed.txt");
      const listener = ns.spawn("socat", ["-u", "TCP-LISTEN:8094,bind=192.0.2.1,reuseaddr", `CREATE:${file}`]);
      await new Promise((r) => setTimeout(r, 300));
      const v = ns.run(bin, ["--ipv4=192.0.2.2/24", "--monitor=192.0.2.1", "--monitor-interval=0.2", "--monitor-hostname=direct-tcp"]);
      await v.waitFor(/pushing metrics to tcp:192\.0\.2\.1:8094/, 30_000);
      const pushed = await until("three pushes over TCP", async () => {
        const lines = completeLines(existsSync(file) ? readFileSync(file, "utf8") : "");
        return lines.filter((l) => l.measurement === "tcp").length >= 3 ? lines : undefined;
      });
      for (const l of pushed) checkPoint(l, "direct-tcp");
      // The connection's own segments show in the counters it carries.
      assert.ok(pushed.filter((l) => l.measurement === "tcp").some((l) => (l.fields.active_opens?.value as bigint) >= 1n));
      await v.stop();
      await listener.stop();
    },
    { kernelAddress: "192.0.2.1/24", timeoutMs: 90_000 },
  );
});

test("without --monitor a warning and nothing pushed; a malformed --monitor is a usage error", async () => {
  const { bin } = await buildSocket();
  const bad = await runUnikernel(bin, ["--monitor=udp:influx.local"]);
  assert.equal(bad.code, 64);
  assert.match(bad.stderr, /invalid value 'udp:influx\.local' for --monitor: expected an IP address.*'influx\.local' is not an IP address \(names are not resolved\)/);
  const help = await runUnikernel(bin, ["--help"]);
  assert.match(help.stdout, /LOG AND MONITORING OPTIONS[^]*--monitor=\[tcp:\|udp:\]IP\[:PORT\][^]*--monitor-control-port=PORT[^]*--monitor-hostname=NAME[^]*--monitor-interval=SECONDS/);
  const u = startUnikernel(bin, [`--port=${await freePort()}`, "--monitor-control-port=0"]);
  try {
    await u.waitFor(/WRN \[monitoring\] no --monitor given: metrics are not pushed anywhere/);
    await u.waitFor(/greeting on port \d+; metrics stay here/);
  } finally {
    await u.stop();
  }
});
