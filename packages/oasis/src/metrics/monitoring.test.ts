// The device over the host's sockets, against Node's own TCP and UDP servers as collectors.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import * as net from "node:net";
import { afterEach, beforeEach, test } from "node:test";
import { parseArgs, resetArgsForTests, usage } from "../runtime/args.ts";
import { SocketStack } from "../net/socket/index.ts";
import { parseLines } from "./line-protocol.fixture.ts";
import { monitoringDevice, parseMonitorTarget, type Monitoring } from "./monitoring.ts";
import { metricsSource, resetMetricsRules } from "./registry.ts";

beforeEach(() => resetArgsForTests());
afterEach(() => resetMetricsRules());

test("--monitor: protocol, IPv4 or bracketed IPv6, port 8094 unless given; bad ones say why", () => {
  assert.deepEqual(parseMonitorTarget("192.0.2.1"), { protocol: "tcp", address: "192.0.2.1", port: 8094 });
  assert.deepEqual(parseMonitorTarget("udp:192.0.2.1:8089"), { protocol: "udp", address: "192.0.2.1", port: 8089 });
  assert.deepEqual(parseMonitorTarget("TCP:[2001:db8::1]:9000"), { protocol: "tcp", address: "2001:db8::1", port: 9000 });
  assert.deepEqual(parseMonitorTarget("2001:db8::1"), { protocol: "tcp", address: "2001:db8::1", port: 8094 });
  assert.throws(() => parseMonitorTarget("influx.example"), /'influx\.example' is not an IP address \(names are not resolved\)/);
  assert.throws(() => parseMonitorTarget("192.0.2.1:0"), /port '0' is not a number from 1 to 65535/);
  assert.throws(() => parseMonitorTarget("192.0.2.1:http"), /port 'http'/);
  assert.throws(() => parseMonitorTarget("sctp:192.0.2.1"), /'sctp' is not an IP address/);
  assert.throws(() => parseMonitorTarget("[::1"), /'\[::1' is not an IPv6 address/);

  monitoringDevice.declare({}, { name: "monitoring", group: "mgmt" });
  assert.throws(() => parseArgs(["--mgmt-monitor=udp:nowhere"]), /invalid value 'udp:nowhere' for --mgmt-monitor: expected an IP address .*\('nowhere' is not an IP address/);
  assert.throws(() => parseArgs(["--mgmt-monitor-interval=0"]), /invalid value '0' for --mgmt-monitor-interval/);
  assert.match(usage("x"), /LOG AND MONITORING OPTIONS[^]*--mgmt-monitor=\[tcp:\|udp:\]IP\[:PORT\][^]*--mgmt-monitor-control-port=PORT[^]*Default: 2323/);
});

async function boot(args: string[]): Promise<{ monitor: Monitoring; stack: SocketStack }> {
  const connect = monitoringDevice.declare({}, { name: "monitoring", group: "" });
  parseArgs(args);
  const stack = new SocketStack();
  return { monitor: await connect({ stack }), stack };
}

test("pushes line protocol over one TCP connection, and connects again after the collector drops it", async () => {
  const received: string[][] = [[]];
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    const mine = received.length - 1;
    sockets.push(s);
    s.setEncoding("utf8").on("data", (d: string) => (received[mine]![received[mine]!.length] = d));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  const { monitor, stack } = await boot([`--monitor=127.0.0.1:${port}`, "--monitor-interval=0.05", "--monitor-hostname=unit vm", "--monitor-control-port=0"]);
  try {
    while (received[0]!.join("").split("\n").length < 4) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sockets.length, 1, "one persistent connection");
    const text = received[0]!.join("");
    const lines = parseLines(text.slice(0, text.lastIndexOf("\n") + 1));
    assert.ok(lines.every((l) => l.measurement === "memory" && l.tags.vm === "unit vm" && l.fields.rss?.kind === "int"));
    // The collector goes away: the device notices and opens a new connection.
    received.push([]);
    sockets[0]!.destroy();
    while (received[1]!.join("").length === 0) await new Promise((r) => setTimeout(r, 20));
    assert.equal(sockets.length, 2);
  } finally {
    await monitor.stop();
    await stack.disconnect();
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test("a collector that stops reading is given up after a stalled write, and a new connection made", async () => {
  // Enough per push to fill the socket buffers within seconds once the collector stops reading.
  const big = metricsSource("unit-bulk", { doc: "", collect: () => Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`field_with_a_long_name_${i}`, i])) });
  const sockets: net.Socket[] = [];
  const server = net.createServer((s) => {
    sockets.push(s);
    if (sockets.length === 1) s.pause(); // the first connection is never read
    else s.resume();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { monitor, stack } = await boot([`--monitor=127.0.0.1:${(server.address() as net.AddressInfo).port}`, "--monitor-interval=0.05", "--monitor-control-port=0"]);
  try {
    const deadline = Date.now() + 30_000;
    while (sockets.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(sockets.length, 2, "a second connection after the stall");
  } finally {
    big.remove();
    await monitor.stop();
    await stack.disconnect();
    for (const s of sockets) s.destroy();
    server.close();
  }
});

test("UDP: whole lines in datagrams; nothing is sent when every source is disabled", async () => {
  const udp = createSocket("udp4");
  const datagrams: string[] = [];
  udp.on("message", (m) => datagrams.push(m.toString("utf8")));
  udp.bind(0, "127.0.0.1");
  await once(udp, "listening");
  const { monitor, stack } = await boot([`--monitor=udp:127.0.0.1:${udp.address().port}`, "--monitor-interval=3600", "--monitor-control-port=0"]);
  try {
    await monitor.push();
    while (datagrams.length === 0) await new Promise((r) => setTimeout(r, 20));
    const [line] = parseLines(datagrams[0]!);
    assert.equal(line!.measurement, "memory");
    assert.equal(line!.tags.vm, "unbundled"); // the build's name; tests run unbundled
    const { handleCommand } = await import("./control.ts");
    assert.equal(handleCommand("M*:disable"), "ok");
    await monitor.push();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(datagrams.length, 1);
  } finally {
    await monitor.stop();
    await stack.disconnect();
    udp.close();
  }
});

test("control port: one command per connection, one line back", async () => {
  const probe = net.createServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const cport = (probe.address() as net.AddressInfo).port;
  probe.close();
  const { monitor, stack } = await boot([`--monitor-control-port=${cport}`]);
  const ask = async (cmd: string) => {
    const s = net.connect(cport, "127.0.0.1");
    await once(s, "connect");
    s.end(cmd);
    let out = "";
    for await (const d of s) out += d;
    return out;
  };
  try {
    assert.equal(monitor.target, null);
    assert.equal(await ask("m\n"), "ok: *:enable\n");
    assert.equal(await ask("Lmonitoring:debug"), "ok\n");
    assert.equal(await ask("lmonitoring\n"), "ok: monitoring:debug\n");
    assert.match(await ask("Q\n"), /^error: unknown command 'Q'/);
    assert.match(await ask("x".repeat(10_000)), /^error: command too long/);
  } finally {
    await monitor.stop();
    await stack.disconnect();
  }
});
