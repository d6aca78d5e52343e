// ICMP errors reaching TCP (RFC 1122 §4.2.3.9, RFC 1191, RFC 5927) on an in-memory link: a
// peer without TCP refuses a connection with protocol unreachable, a router's "fragmentation
// needed" shrinks the MSS mid-transfer, soft errors are named when a connection times out, and
// errors that quote a sequence number not in flight are ignored.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { MemorySwitch, type SwitchPort } from "../phy/switch.ts";
import { withFaults } from "../phy/faults.ts";
import { ipv4Stack } from "../stack/direct.ts";
import { PROTO_TCP } from "../../devices/ip.ts";
import type { Net } from "../../devices/net.ts";
import { FlowError } from "../../devices/errors.ts";
import type { TcpFlow } from "../../devices/tcp.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { parseIpv4Address } from "../wire/address.ts";
import { writeIpv4Header } from "../wire/ipv4.ts";
import { createTcp, type TcpConfig, type TcpStack } from "./index.ts";
import { pattern } from "./test-support.ts";

const A = "192.0.2.2";
const B = "192.0.2.3";
const ROUTER = "192.0.2.1";

function node(sw: Net, cidr: string, config?: TcpConfig): { tcp: TcpStack; stack: ReturnType<typeof ipv4Stack> } {
  let tcp: TcpStack | null = null;
  const stack = ipv4Stack(sw, { cidr, tcp: config === undefined ? undefined : (ip) => (tcp = createTcp(ip, config)) });
  return { tcp: tcp!, stack };
}

/** TCP segments A puts on the wire (IPv4 header onwards), as a promiscuous port sees them. */
function sniff(port: SwitchPort, from: string): Uint8Array[] {
  const seen: Uint8Array[] = [];
  const src = parseIpv4Address(from)!;
  port.listen((f) => {
    if (f.length < 34 || f[12] !== 0x08 || f[13] !== 0x00 || f[23] !== PROTO_TCP) return;
    if (((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0 !== src) return;
    seen.push(f.slice(14));
  });
  return seen;
}

/** An ICMP error from `reporter` to A quoting `packet` (its IP header and 8 bytes, RFC 792). */
function icmpError(port: SwitchPort, toMac: Uint8Array, reporter: string, type: number, code: number, rest: number, packet: Uint8Array): void {
  const quote = packet.subarray(0, (packet[0]! & 0x0f) * 4 + 8);
  const icmp = new Uint8Array(8 + quote.length);
  icmp[0] = type;
  icmp[1] = code;
  icmp[4] = rest >>> 24;
  icmp[5] = rest >>> 16;
  icmp[6] = rest >>> 8;
  icmp[7] = rest;
  icmp.set(quote, 8);
  const c = internetChecksum(icmp);
  icmp[2] = c >>> 8;
  icmp[3] = c;
  const frame = new Uint8Array(14 + 20 + icmp.length);
  frame.set(toMac, 0);
  frame.set(port.mac, 6);
  frame[12] = 0x08;
  writeIpv4Header(frame, 14, parseIpv4Address(reporter)!, parseIpv4Address(A)!, 1, 64, 7, 0, icmp.length);
  frame.set(icmp, 34);
  port.write(frame);
}

async function until(sw: MemorySwitch, done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) {
    await sw.settle();
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(done(), what);
}

test("a peer without TCP answers protocol unreachable: connect fails at once as refused, naming the reporter", async () => {
  const sw = new MemorySwitch();
  const a = node(sw.port(), `${A}/24`, {});
  const b = node(sw.port(), `${B}/24`);
  try {
    const started = Date.now();
    await assert.rejects(a.tcp.connect(B, 80), (e: FlowError) => e instanceof FlowError && e.code === "refused" && e.message.includes(`${B} answered with ICMP protocol-unreachable`));
    assert.ok(Date.now() - started < 900, "no SYN retransmission was waited for");
    assert.equal(a.tcp.stats().icmpErrors, 1);
    assert.equal(a.tcp.stats().connectionCount, 0);
  } finally {
    await a.stack.stack.disconnect();
    await b.stack.stack.disconnect();
  }
});

test("an error quoting a sequence number not in flight is ignored; one quoting the SYN refuses (prohibited)", async () => {
  const sw = new MemorySwitch();
  const a = node(sw.port(), `${A}/24`, { initialRtoMs: 5000 });
  const b = node(sw.port(), `${B}/24`);
  b.stack.ipv4.listen(PROTO_TCP, () => {}); // a black hole: SYNs vanish
  const raw = sw.port({ promiscuous: true });
  const seen = sniff(raw, A);
  try {
    const connecting = a.tcp.connect(B, 81);
    connecting.catch(() => {});
    await until(sw, () => seen.length > 0, "the SYN went out");
    const syn = seen[0]!;
    const forged = syn.slice();
    forged[24] ^= 0x80; // another sequence number
    icmpError(raw, a.stack.ethernet.mac, ROUTER, 3, 3, 0, forged);
    await sw.settle();
    assert.equal(a.tcp.stats().drops["icmp-out-of-window"], 1);
    assert.equal(a.tcp.stats().connections.SYN_SENT, 1, "still connecting");
    icmpError(raw, a.stack.ethernet.mac, ROUTER, 3, 13, 0, syn);
    await assert.rejects(connecting, (e: FlowError) => e.code === "refused" && /ICMP prohibited \(type 3 code 13\)/.test(e.message));
  } finally {
    await a.stack.stack.disconnect();
    await b.stack.stack.disconnect();
  }
});

test("host unreachable is a soft error: the connection keeps trying and its timeout names the ICMP report", async () => {
  const sw = new MemorySwitch();
  const a = node(sw.port(), `${A}/24`, { initialRtoMs: 20, synRetries: 2 });
  const b = node(sw.port(), `${B}/24`);
  b.stack.ipv4.listen(PROTO_TCP, () => {});
  const raw = sw.port({ promiscuous: true });
  const seen = sniff(raw, A);
  try {
    const connecting = a.tcp.connect(B, 82);
    connecting.catch(() => {});
    await until(sw, () => seen.length > 0, "the SYN went out");
    icmpError(raw, a.stack.ethernet.mac, ROUTER, 3, 1, 0, seen[0]!);
    await sw.settle();
    assert.equal(a.tcp.stats().connections.SYN_SENT, 1, "not aborted by a soft error");
    await assert.rejects(connecting, (e: FlowError) => e.code === "timeout" && e.message.includes(`last, ${ROUTER} answered with ICMP unreachable (type 3 code 1)`));
    assert.ok(seen.length >= 3, "the SYN was retransmitted after the error");
  } finally {
    await a.stack.stack.disconnect();
    await b.stack.stack.disconnect();
  }
});

test("fragmentation needed from a router mid-transfer: the MSS shrinks, what was in flight goes again, nothing is lost", async () => {
  const sw = new MemorySwitch();
  const a = node(sw.port(), `${A}/24`, {});
  // The path to B takes 1000-byte datagrams at most: bigger ones vanish, as at a router that
  // sends "fragmentation needed" instead of forwarding them.
  const b = node(withFaults(sw.port(), { maxSize: 14 + 1000, direction: "rx" }), `${B}/24`, {});
  const raw = sw.port({ promiscuous: true });
  const seen = sniff(raw, A);
  const data = pattern(400_000, 11);
  const received = createHash("sha256");
  let bytes = 0;
  const done = new Promise<void>((resolve) =>
    b.tcp.listen(9000, async (flow: TcpFlow) => {
      for (let c = await flow.read(); c !== null; c = await flow.read()) {
        received.update(c);
        bytes += c.length;
      }
      await flow.close();
      resolve();
    }),
  );
  try {
    const flow = await a.tcp.connect(B, 9000);
    const writing = flow.write(data.subarray(0, 100_000));
    await until(sw, () => seen.some((p) => p.length > 1400), "full-sized segments went out");
    const big = seen.find((p) => p.length > 1400)!;
    assert.ok((big[6]! & 0x40) !== 0, "TCP segments carry DF");
    icmpError(raw, a.stack.ethernet.mac, ROUTER, 3, 4, 1000, big);
    await sw.settle();
    const after = seen.length;
    await writing;
    await flow.write(data.subarray(100_000));
    await flow.close();
    await done;
    assert.equal(bytes, data.length);
    assert.equal(received.digest("hex"), createHash("sha256").update(data).digest("hex"));
    const largest = Math.max(...seen.slice(after).map((p) => (p[2]! << 8) | p[3]!));
    assert.ok(largest <= 1000, `segments after the report fit the 1000-byte path MTU (largest ${largest})`);
    assert.equal(a.tcp.stats().pathMtuReductions, 1);
  } finally {
    await a.stack.stack.disconnect();
    await b.stack.stack.disconnect();
  }
});
