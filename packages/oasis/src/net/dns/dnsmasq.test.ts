// The client against dnsmasq, a real DNS server, on 127.0.0.1 through the socket stack.
import { after, before, describe, it } from "node:test";
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";
import { DnsClient, DnsError } from "./client.ts";
import { dnsmasqUnavailable, startDnsmasq, type Dnsmasq } from "./dnsmasq.ts";
import { loopbackStack } from "./test-server.ts";
import { SocketStack } from "../socket/index.ts";

const BIG = Array.from({ length: 120 }, (_, i) => `--host-record=big.test,192.0.2.${i + 1}`);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (!(e instanceof DnsError)) throw e;
    return e.code;
  }
}

describe("DNS client against dnsmasq", { skip: dnsmasqUnavailable() }, () => {
  const stack = loopbackStack();
  let resolver: Dnsmasq;
  let authority: Dnsmasq;
  before(async () => {
    resolver = await startDnsmasq(
      [
        "--local-ttl=60",
        "--address=/example.test/192.0.2.7",
        "--address=/nx.test/",
        "--host-record=host.test,192.0.2.8,2001:db8::8",
        "--cname=alias.test,host.test",
        "--cname=dangling.test,gone.nx.test",
        "--mx-host=host.test,mail.host.test,10",
        "--txt-record=host.test,hello world",
        "--srv-host=_http._tcp.host.test,host.test,8080,1,2",
        "--ptr-record=8.2.0.192.in-addr.arpa,host.test",
        ...BIG,
      ],
      { logQueries: true },
    );
    // An authoritative zone: dnsmasq then puts the SOA into negative answers (RFC 2308).
    authority = await startDnsmasq([
      "--auth-zone=auth.test",
      "--auth-server=ns.auth.test,127.0.0.1",
      "--auth-soa=1,hostmaster.auth.test,1200,120,1209600",
      "--auth-ttl=60",
      "--host-record=www.auth.test,192.0.2.10",
    ]);
  });
  after(async () => {
    await Promise.all([resolver?.stop(), authority?.stop()]);
    await stack.disconnect();
  });

  it("resolves A, AAAA, CNAME chains, MX, TXT, SRV and PTR", async () => {
    const c = new DnsClient(stack, { nameservers: [`udp:127.0.0.1:${resolver.port}`], timeoutMs: 3000 });
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
    assert.deepEqual(await c.getHostByName("deep.www.example.test"), ["192.0.2.7"]);
    assert.deepEqual(await c.getHostByName6("host.test"), ["2001:db8::8"]);
    assert.deepEqual(await c.getAddrInfo("host.test"), ["192.0.2.8", "2001:db8::8"]);
    const alias = await c.resolve("alias.test", "A");
    assert.equal(alias.canonicalName, "host.test");
    assert.deepEqual(alias.records, [{ type: "A", address: "192.0.2.8" }]);
    assert.deepEqual((await c.resolve("host.test", "MX")).records, [{ type: "MX", preference: 10, exchange: "mail.host.test" }]);
    const txt = (await c.resolve("host.test", "TXT")).records[0]!;
    assert.ok(txt.type === "TXT");
    assert.equal(new TextDecoder().decode(txt.strings[0]), "hello world");
    assert.deepEqual((await c.resolve("_http._tcp.host.test", "SRV")).records, [{ type: "SRV", priority: 1, weight: 2, port: 8080, target: "host.test" }]);
    assert.deepEqual(await c.reverse("192.0.2.8"), ["host.test"]);
    assert.equal(await code(c.getHostByName("x.nx.test")), "nxdomain");
    await assert.rejects(c.getHostByName("dangling.test"), (e) => e instanceof DnsError && e.code === "nxdomain" && /gone\.nx\.test \(alias of dangling\.test\) does not exist/.test(e.message));
    // Repeated lookups come from the cache: dnsmasq logs each query it gets.
    const asked = (resolver.log().match(/query\[A\] www\.example\.test/g) ?? []).length;
    await c.getHostByName("www.example.test");
    assert.equal((resolver.log().match(/query\[A\] www\.example\.test/g) ?? []).length, asked);
  });

  it("gets a long answer over TCP after dnsmasq truncates it over UDP", async () => {
    const c = new DnsClient(stack, { nameservers: [`udp:127.0.0.1:${resolver.port}`], timeoutMs: 3000 });
    const addresses = await c.getHostByName("big.test");
    assert.equal(addresses.length, BIG.length);
    assert.deepEqual(new Set(addresses), new Set(BIG.map((b) => b.split(",")[1])));
    assert.equal(c.counters.get("truncated-retry-tcp"), 1);
    // Without EDNS (answers over UDP limited to 512 bytes) it goes the same way.
    const plain = new DnsClient(stack, { nameservers: [`udp:127.0.0.1:${resolver.port}`], ednsPayloadSize: 0, timeoutMs: 3000 });
    assert.equal((await plain.getHostByName("big.test")).length, BIG.length);
    assert.equal(plain.counters.get("truncated-retry-tcp"), 1);
    // A tcp: nameserver is asked over TCP from the start.
    const tcpOnly = new DnsClient(stack, { nameservers: [`tcp:127.0.0.1:${resolver.port}`], timeoutMs: 3000 });
    assert.equal((await tcpOnly.getHostByName("big.test")).length, BIG.length);
    assert.equal(tcpOnly.counters.get("truncated-retry-tcp"), 0);
  });

  it("caches NXDOMAIN and NODATA from an authoritative zone (SOA in the answer)", async () => {
    const c = new DnsClient(stack, { nameservers: [`udp:127.0.0.1:${authority.port}`], timeoutMs: 3000 });
    assert.deepEqual(await c.getHostByName("www.auth.test"), ["192.0.2.10"]);
    for (let i = 0; i < 2; i++) {
      assert.equal(await code(c.getHostByName("missing.auth.test")), "nxdomain");
      assert.equal(await code(c.getHostByName6("www.auth.test")), "nodata");
    }
    assert.equal(c.counters.get("cache-hit"), 2);
    // NXDOMAIN holds for every type of the name (RFC 2308 §5).
    assert.equal(await code(c.getHostByName6("missing.auth.test")), "nxdomain");
    assert.equal(c.counters.get("cache-hit"), 3);
  });

  it("moves on from a server that does not answer to dnsmasq", async () => {
    // A port of ours nobody answers on: bound by a second stack that ignores what it gets.
    const silent = loopbackStack();
    try {
      silent.udp.listen(0, () => {});
      const port = await silent.udp.listening(0);
      const c = new DnsClient(stack, { nameservers: [`udp:127.0.0.1:${port}`, `udp:127.0.0.1:${resolver.port}`], timeoutMs: 1000, attempts: 3 });
      assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
      assert.ok(c.counters.get("timeout") >= 1);
    } finally {
      await silent.disconnect();
    }
  });

  it("asks dnsmasq on ::1 over IPv6 through dual-stack sockets, with UDP and TCP", { skip: ipv6LoopbackUnavailable() }, async () => {
    const v6 = await startDnsmasq(["--local-ttl=60", "--host-record=host.test,192.0.2.8,2001:db8::8", ...BIG], { address: "::1" });
    const dual = new SocketStack(); // binds every address, both families
    try {
      const c = new DnsClient(dual, { nameservers: [`udp:[::1]:${v6.port}`], timeoutMs: 3000 });
      assert.deepEqual(await c.getAddrInfo("host.test"), ["192.0.2.8", "2001:db8::8"]);
      assert.equal((await c.getHostByName("big.test")).length, BIG.length);
      assert.equal(c.counters.get("truncated-retry-tcp"), 1);
      assert.equal(c.counters.get("spoofed-source"), 0);
    } finally {
      await dual.disconnect();
      await v6.stop();
    }
  });
});

function ipv6LoopbackUnavailable(): string | undefined {
  try {
    return readFileSync("/proc/net/if_inet6", "utf8").includes("00000000000000000000000000000001") ? undefined : "no ::1 on this host";
  } catch {
    return "no IPv6 on this host";
  }
}
