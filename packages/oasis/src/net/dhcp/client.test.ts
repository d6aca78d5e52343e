// The DHCP client's timing on virtual time, against a scripted server on a switch port (the
// real-server test with dnsmasq is examples/device-usage/ping). Lease: 100 s, T1 50 s, T2 87.5 s.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemorySwitch } from "../phy/switch.ts";
import { EthernetLayer } from "../ethernet/ethernet.ts";
import { ArpLayer } from "../arp/arp.ts";
import { Ipv4Layer } from "../ipv4/ipv4.ts";
import { ManualClock } from "../stack/clock.ts";
import { DhcpClient } from "./client.ts";
import { WireError } from "../wire/error.ts";
import { parseIpv4, writeIpv4Header } from "../wire/ipv4.ts";
import { emitUdpHeader, parseUdp } from "../wire/udp.ts";
import { ipv4PseudoSum } from "../wire/checksum.ts";
import { formatIpv4Address, parseIpv4Address } from "../wire/address.ts";
import { BOOTREPLY, DHCPACK, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST, dhcpLength, emitDhcp, parseDhcp, type DhcpRepr } from "../wire/dhcp.ts";

const SERVER = parseIpv4Address("192.0.2.1")!;
const OFFERED = parseIpv4Address("192.0.2.50")!;

interface Seen {
  at: number;
  type: number;
  src: string;
  dst: string;
  ciaddr: number;
  repr: DhcpRepr;
}

async function setup() {
  const sw = new MemorySwitch();
  const clock = new ManualClock();
  const eth = new EthernetLayer(sw.port({ mac: "02:00:00:00:00:01" }));
  const arp = new ArpLayer(eth, { clock });
  const ipv4 = new Ipv4Layer(eth, arp, { clock });
  let seq = 0;
  const client = new DhcpClient(ipv4, eth.mac, { clock, random: () => (seq++ * 7919) % 2001 });
  const server = sw.port({ mac: "02:00:00:00:00:fe" });
  const seen: Seen[] = [];
  // What the server does with each message type: answer with a type, or stay silent.
  const script = { discover: DHCPOFFER as number | null, request: DHCPACK as number | null };
  server.listen((f) => {
    if (f[12] !== 0x08 || f[13] !== 0x00) return;
    const ip = parseIpv4(f.subarray(14));
    if (ip instanceof WireError || ip.protocol !== 17) return;
    const udp = parseUdp(ip.payload, ipv4PseudoSum(ip.src, ip.dst, 17, ip.payloadLength));
    assert.ok(!(udp instanceof WireError), "the client's UDP checksum is valid");
    const m = parseDhcp(udp.payload);
    assert.ok(!(m instanceof WireError), String(m));
    const type = m.options.messageType!;
    seen.push({ at: clock.nowMs(), type, src: formatIpv4Address(ip.src), dst: formatIpv4Address(ip.dst), ciaddr: m.ciaddr, repr: m });
    const answer = type === DHCPDISCOVER ? script.discover : type === DHCPREQUEST ? script.request : null;
    if (answer === null) return;
    const reply: DhcpRepr = {
      op: BOOTREPLY, xid: m.xid, secs: 0, broadcast: false, ciaddr: m.ciaddr, yiaddr: answer === DHCPNAK ? 0 : OFFERED, siaddr: 0, giaddr: 0, chaddr: m.chaddr,
      options: answer === DHCPNAK ? { messageType: answer, serverId: SERVER } : { messageType: answer, serverId: SERVER, subnetMask: 0xffffff00, routers: [SERVER], leaseTime: 100, dnsServers: [SERVER] },
    };
    const body = new Uint8Array(dhcpLength(reply));
    const n = emitDhcp(reply, body);
    const frame = new Uint8Array(14 + 20 + 8 + n);
    frame.set(f.subarray(6, 12), 0);
    frame.set(server.mac, 6);
    frame[12] = 0x08;
    writeIpv4Header(frame, 14, SERVER, OFFERED, 17, 64, 1, 0, 8 + n);
    frame.set(body.subarray(0, n), 42);
    emitUdpHeader(frame, 34, 67, 68, frame.subarray(42), ipv4PseudoSum(SERVER, OFFERED, 17, 8 + n));
    server.write(frame);
  });
  const advance = async (ms: number, step = 500) => {
    for (let t = 0; t < ms; t += step) {
      clock.advance(Math.min(step, ms - t));
      await sw.settle();
    }
  };
  arp.addStatic("192.0.2.1", server.mac);
  return { sw, clock, client, ipv4, seen, script, advance };
}

test("DORA configures IPv4 from the lease; T1 renews by unicast and the ACK extends the lease", async () => {
  const t = await setup();
  const lease = await t.client.start();
  assert.deepEqual([lease.address, lease.prefixLength, lease.gateway, lease.server, lease.leaseSeconds], ["192.0.2.50", 24, "192.0.2.1", "192.0.2.1", 100]);
  assert.deepEqual(t.ipv4.configuredAddresses(), [{ address: "192.0.2.50", prefixLength: 24 }]);
  assert.deepEqual(t.seen.map((s) => [s.type, s.src, s.dst]), [[DHCPDISCOVER, "0.0.0.0", "255.255.255.255"], [DHCPREQUEST, "0.0.0.0", "255.255.255.255"]]);
  assert.equal(t.seen[1]!.repr.options.requestedIp, OFFERED);
  await t.advance(49_500);
  assert.equal(t.seen.length, 2);
  await t.advance(500);
  assert.deepEqual([t.seen[2]!.type, t.seen[2]!.src, t.seen[2]!.dst, t.seen[2]!.ciaddr], [DHCPREQUEST, "192.0.2.50", "192.0.2.1", OFFERED]);
  assert.equal(t.client.state, "bound");
  // Renewed at 50 s for 100 s more: the next renewal is at 100 s.
  await t.advance(49_000);
  assert.equal(t.seen.length, 3);
  await t.advance(1_000);
  assert.equal(t.seen.length, 4);
  t.client.stop();
});

test("DISCOVER is retransmitted with exponential backoff while no server answers", async () => {
  const t = await setup();
  t.script.discover = null;
  void t.client.start();
  await t.advance(70_000);
  const times = t.seen.map((s) => s.at / 1000);
  const gaps = times.slice(1).map((x, i) => x - times[i]!);
  assert.ok(gaps.length >= 4, `only ${times.length} DISCOVERs`);
  for (const [i, expected] of [4, 8, 16, 32].entries()) {
    assert.ok(Math.abs(gaps[i]! - expected) <= 1.01, `gap ${i} is ${gaps[i]} s, expected ${expected} ± 1`);
  }
  assert.equal(t.client.state, "selecting");
  t.client.stop();
});

test("without answers it rebinds by broadcast at T2, and at expiry unconfigures and starts over", async () => {
  const t = await setup();
  await t.client.start();
  t.script.request = null;
  await t.advance(87_000);
  assert.equal(t.client.state, "renewing");
  await t.advance(1_000);
  assert.equal(t.client.state, "rebinding");
  const rebind = t.seen.find((s) => s.type === DHCPREQUEST && s.dst === "255.255.255.255" && s.ciaddr === OFFERED);
  assert.ok(rebind, "a broadcast REQUEST with ciaddr set");
  t.script.discover = null;
  await t.advance(12_500);
  assert.equal(t.client.state, "selecting");
  assert.deepEqual(t.ipv4.configuredAddresses(), []);
  assert.equal(t.client.counters.get("expired"), 1);
  t.client.stop();
});

test("a NAK while renewing drops the address; release sends DHCPRELEASE and unconfigures", async () => {
  const t = await setup();
  await t.client.start();
  t.script.request = DHCPNAK;
  await t.advance(50_000);
  assert.deepEqual(t.ipv4.configuredAddresses(), []);
  assert.equal(t.client.state, "init"); // pausing before it starts over
  assert.equal(t.client.counters.get(`received-${DHCPNAK}`), 1);
  t.script.request = DHCPACK;
  await t.advance(20_000);
  assert.equal(t.client.state, "bound");
  await t.client.release();
  await t.sw.settle();
  const last = t.seen.at(-1)!;
  assert.deepEqual([last.type, last.src, last.dst, last.repr.options.serverId], [DHCPRELEASE, "192.0.2.50", "192.0.2.1", SERVER]);
  assert.deepEqual(t.ipv4.configuredAddresses(), []);
});
