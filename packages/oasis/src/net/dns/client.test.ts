// The client against a DNS server of our own on 127.0.0.1 (real host UDP/TCP sockets on both
// sides), which answers from a table and misbehaves on request.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { DnsClient, DnsError, type DnsClientOptions } from "./client.ts";
import { a, aaaa, cname, loopbackStack, reply, soa, TableServer, type Responder } from "./test-server.ts";
import { RCODE, typeName, type DnsMessage, type DnsRecord } from "./wire.ts";

const stack = loopbackStack();
const servers: TableServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  await stack.disconnect();
});

async function serve(respond: Responder): Promise<TableServer> {
  const s = await TableServer.start(respond);
  servers.push(s);
  return s;
}

function client(nameservers: string[], options: Partial<DnsClientOptions> = {}): DnsClient {
  // Generous timeouts: tests share a loaded machine; silent servers are what makes them wait.
  return new DnsClient(stack, { nameservers, timeoutMs: 3000, ...options });
}

/** Answers from a zone: records by "TYPE name"; names absent from the zone are NXDOMAIN. */
function zone(records: DnsRecord[], options: { negativeTtl?: number } = {}): Responder {
  return (q) => {
    const question = q.questions[0]!;
    const owned = records.filter((r) => r.name.toLowerCase() === question.name.toLowerCase());
    const matching = owned.filter((r) => typeName(question.type) === r.data.type || r.data.type === "CNAME");
    const authority = options.negativeTtl !== undefined ? [soa("example.test", options.negativeTtl, options.negativeTtl)] : [];
    if (owned.length === 0) return reply(q, [], { rcode: RCODE.NXDOMAIN, authorities: authority });
    return reply(q, matching, matching.length === 0 ? { authorities: authority } : {});
  };
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<DnsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DnsError, `expected a DnsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (message) assert.match(e.message, message);
    return e;
  }
  assert.fail(`expected DnsError ${code}, but the lookup succeeded`);
}

describe("DNS client against a server on loopback", () => {
  it("resolves A, AAAA, MX and TXT over UDP and answers again from the cache", async () => {
    const s = await serve(
      zone([
        a("www.example.test", "192.0.2.7"),
        a("www.example.test", "192.0.2.8"),
        aaaa("www.example.test", "2001:db8::7"),
        { name: "example.test", class: 1, ttl: 60, data: { type: "MX", preference: 10, exchange: "mail.example.test" } },
        { name: "example.test", class: 1, ttl: 60, data: { type: "TXT", strings: [new TextEncoder().encode("v=spf1 -all")] } },
      ]),
    );
    const c = client([s.spec()]);
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7", "192.0.2.8"]);
    assert.deepEqual(await c.getHostByName6("WWW.Example.Test."), ["2001:db8::7"]);
    const mx = await c.resolve("example.test", "MX");
    assert.deepEqual(mx.records, [{ type: "MX", preference: 10, exchange: "mail.example.test" }]);
    assert.ok(mx.ttl > 0 && mx.ttl <= 60);
    const txt = await c.resolve("example.test", "TXT");
    assert.equal(txt.records[0]!.type === "TXT" && new TextDecoder().decode(txt.records[0]!.strings[0]), "v=spf1 -all");
    const before = s.count();
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7", "192.0.2.8"]);
    assert.equal(s.count(), before, "the second lookup must come from the cache");
    assert.equal(c.counters.get("cache-hit"), 1);
  });

  it("ignores answers from another port, with another ID or to another question, and takes the real one", async () => {
    const s = await serve((q) => {
      const forged = reply(q, [a(q.questions[0]!.name, "198.51.100.66")]);
      return [
        { fromOtherPort: forged },
        { ...forged, id: (q.id + 1) & 0xffff },
        { ...forged, questions: [{ ...q.questions[0]!, name: "other.example.test" }] },
        new Uint8Array([1, 2, 3]),
        // Our ID and a question whose name is a compression pointer to itself.
        new Uint8Array([q.id >> 8, q.id & 255, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]),
        reply(q, [a(q.questions[0]!.name, "192.0.2.7")]),
      ];
    });
    const c = client([s.spec()]);
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
    assert.equal(c.counters.get("spoofed-source"), 1);
    assert.equal(c.counters.get("wrong-id"), 1);
    assert.equal(c.counters.get("wrong-question"), 1);
    assert.equal(c.counters.get("malformed:truncated"), 1);
    assert.equal(c.counters.get("malformed:bad-pointer"), 1);
  });

  it("asks again over TCP when the UDP answer is truncated", async () => {
    const many = Array.from({ length: 200 }, (_, i) => a("big.example.test", `192.0.2.${i}`));
    const s = await serve((q, via) => (via === "udp" ? reply(q, [], { tc: true }) : reply(q, many)));
    const c = client([s.spec()]);
    const addresses = await c.getHostByName("big.example.test");
    assert.equal(addresses.length, 200);
    assert.deepEqual(s.queries, ["udp A big.example.test", "tcp A big.example.test"]);
  });

  it("speaks TCP only to a tcp: nameserver", async () => {
    const s = await serve(zone([a("www.example.test", "192.0.2.7")]));
    const c = client([s.spec("tcp")]);
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
    assert.deepEqual(s.queries, ["tcp A www.example.test"]);
  });

  it("rotates past a silent server after the timeout and then asks the one that answered first", async () => {
    const silent = await serve(() => null);
    const good = await serve(zone([a("one.example.test", "192.0.2.1"), a("two.example.test", "192.0.2.2")]));
    const c = client([silent.spec(), good.spec()], { timeoutMs: 2000, attempts: 3 });
    assert.deepEqual(await c.getHostByName("one.example.test"), ["192.0.2.1"]);
    assert.ok(silent.count() >= 1);
    const asked = silent.count();
    assert.deepEqual(await c.getHostByName("two.example.test"), ["192.0.2.2"]);
    assert.equal(silent.count(), asked, "the server that answered is asked first");
    assert.ok(c.counters.get("timeout") >= 1);
  });

  it("fails with timeout naming the name and every server when none answers", async () => {
    const s1 = await serve(() => null);
    const s2 = await serve(() => null);
    const c = client([s1.spec(), s2.spec()], { timeoutMs: 200, attempts: 2 });
    const e = await rejectsWith(c.getHostByName("quiet.example.test"), "timeout", /A quiet\.example\.test.*udp:127\.0\.0\.1:\d+, udp:127\.0\.0\.1:\d+/);
    assert.equal(e.domain, "quiet.example.test");
    assert.equal(s1.count(), 2);
    assert.equal(s2.count(), 2);
  });

  it("caches NXDOMAIN and NODATA for the SOA's negative TTL, and not without an SOA", async () => {
    const s = await serve(zone([a("v4only.example.test", "192.0.2.4")], { negativeTtl: 1 }));
    const c = client([s.spec()]);
    await rejectsWith(c.getHostByName("missing.example.test"), "nxdomain", /missing\.example\.test does not exist.*udp:127\.0\.0\.1/);
    await rejectsWith(c.getHostByName("missing.example.test"), "nxdomain", /cached/);
    await rejectsWith(c.getHostByName6("v4only.example.test"), "nodata", /has no AAAA record/);
    await rejectsWith(c.getHostByName6("v4only.example.test"), "nodata");
    assert.equal(s.count(), 2, "negative answers come from the cache while their TTL lasts");
    await new Promise((r) => setTimeout(r, 1100));
    await rejectsWith(c.getHostByName("missing.example.test"), "nxdomain");
    assert.equal(s.count(), 3, "after the negative TTL the server is asked again");

    const noSoa = await serve(zone([]));
    const c2 = client([noSoa.spec()]);
    await rejectsWith(c2.getHostByName("missing.example.test"), "nxdomain");
    await rejectsWith(c2.getHostByName("missing.example.test"), "nxdomain");
    assert.equal(noSoa.count(), 2, "without an SOA a negative answer is not cached");
  });

  it("expires positive answers after their TTL and respects the cache size", async () => {
    const s = await serve(zone([a("short.example.test", "192.0.2.1", 1), a("x.example.test", "192.0.2.2"), a("y.example.test", "192.0.2.3")]));
    const c = client([s.spec()], { cacheSize: 1 });
    await c.getHostByName("short.example.test");
    await new Promise((r) => setTimeout(r, 1100));
    await c.getHostByName("short.example.test");
    assert.equal(s.count(), 2);
    await c.getHostByName("x.example.test");
    await c.getHostByName("y.example.test"); // evicts x
    await c.getHostByName("x.example.test");
    assert.equal(s.count(), 5);
  });

  it("follows CNAME chains, asks for a target the answer left out, and stops loops", async () => {
    const s = await serve(
      zone([
        cname("www.example.test", "web.example.test", 100),
        cname("web.example.test", "host.example.test", 50),
        a("host.example.test", "192.0.2.9", 200),
        cname("far.example.test", "elsewhere.test"),
        cname("loop1.example.test", "loop2.example.test"),
        cname("loop2.example.test", "loop1.example.test"),
      ]),
    );
    // This zone answers one step at a time, so the client follows each CNAME itself.
    const c = client([s.spec()]);
    const answer = await c.resolve("www.example.test", "A");
    assert.equal(answer.canonicalName, "host.example.test");
    assert.deepEqual(answer.records, [{ type: "A", address: "192.0.2.9" }]);
    assert.equal(answer.ttl, 50, "the smallest TTL along the chain");
    await rejectsWith(c.getHostByName("far.example.test"), "nxdomain", /elsewhere\.test.*alias of far\.example\.test/);
    await rejectsWith(c.getHostByName("loop1.example.test"), "cname-loop");

    // A server that puts the whole chain in one answer is asked once.
    const full = await serve((q) => reply(q, [cname(q.questions[0]!.name, "host.example.test"), a("host.example.test", "192.0.2.9")]));
    const c2 = client([full.spec()]);
    assert.deepEqual(await c2.getHostByName("alias.example.test"), ["192.0.2.9"]);
    assert.equal(full.count(), 1);
  });

  it("tries the next server after SERVFAIL or REFUSED, and reports the last failure", async () => {
    const failing = await serve((q) => reply(q, [], { rcode: RCODE.SERVFAIL }));
    const good = await serve(zone([a("www.example.test", "192.0.2.7")]));
    const c = client([failing.spec(), good.spec()]);
    assert.deepEqual(await c.getHostByName("www.example.test"), ["192.0.2.7"]);
    const refusing = await serve((q) => reply(q, [], { rcode: RCODE.REFUSED }));
    await rejectsWith(client([refusing.spec()], { attempts: 1 }).getHostByName("www.example.test"), "refused", /A www\.example\.test failed .*answered REFUSED/);
    await rejectsWith(client([failing.spec()], { attempts: 1 }).getHostByName("www.example.test"), "servfail");
  });

  it("reports malformed when a server only sends garbage", async () => {
    const s = await serve((q) => {
      const bytes = new Uint8Array(20);
      bytes[0] = q.id >> 8;
      bytes[1] = q.id & 255;
      bytes[2] = 0x80;
      bytes[5] = 5; // five questions in 8 bytes
      return bytes;
    });
    await rejectsWith(client([s.spec()], { timeoutMs: 1500, attempts: 1 }).getHostByName("www.example.test"), "malformed", /malformed answers/);
  });

  it("getAddrInfo gives IPv4 then IPv6 and tolerates a missing family; literals need no query", async () => {
    const s = await serve(zone([a("dual.example.test", "192.0.2.1"), aaaa("dual.example.test", "2001:db8::1"), a("v4.example.test", "192.0.2.4")]));
    const c = client([s.spec()]);
    assert.deepEqual(await c.getAddrInfo("dual.example.test"), ["192.0.2.1", "2001:db8::1"]);
    assert.deepEqual(await c.getAddrInfo("dual.example.test", { prefer: "ipv6" }), ["2001:db8::1", "192.0.2.1"]);
    assert.deepEqual(await c.getAddrInfo("v4.example.test"), ["192.0.2.4"]);
    await rejectsWith(c.getAddrInfo("nowhere.example.test"), "nxdomain");
    const before = s.count();
    assert.deepEqual(await c.getAddrInfo("2001:DB8::5"), ["2001:db8::5"]);
    assert.deepEqual(await c.getHostByName("192.0.2.99"), ["192.0.2.99"]);
    await rejectsWith(c.getHostByName("2001:db8::5"), "invalid-name", /is an IPv6 address.*getHostByName6/);
    assert.equal(s.count(), before);
  });

  it("reverse() asks PTR under in-addr.arpa and ip6.arpa", async () => {
    const ptr = (name: string, target: string): DnsRecord => ({ name, class: 1, ttl: 60, data: { type: "PTR", target } });
    const s = await serve(zone([ptr("7.2.0.192.in-addr.arpa", "www.example.test"), ptr("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "v6.example.test")]));
    const c = client([s.spec()]);
    assert.deepEqual(await c.reverse("192.0.2.7"), ["www.example.test"]);
    assert.deepEqual(await c.reverse("2001:db8::1"), ["v6.example.test"]);
    await rejectsWith(c.reverse("not-an-ip"), "invalid-name", /not an IPv4 or IPv6 address/);
  });

  it("refuses bad names before asking anyone, and shares one query between identical lookups", async () => {
    const s = await serve(zone([a("www.example.test", "192.0.2.7")]));
    const c = client([s.spec()]);
    await rejectsWith(c.getHostByName("a..example.test"), "invalid-name", /'a\.\.example\.test' is not a valid domain name: .*empty label/);
    await rejectsWith(c.getHostByName(`${"x".repeat(64)}.test`), "invalid-name", /at most 63/);
    assert.equal(s.count(), 0);
    const results = await Promise.all([c.getHostByName("www.example.test"), c.getHostByName("www.example.test"), c.getHostByName("WWW.example.test")]);
    assert.deepEqual(results, [["192.0.2.7"], ["192.0.2.7"], ["192.0.2.7"]]);
    assert.equal(s.count(), 1);
  });

  it("uses a different random source port and ID for each query", async () => {
    const seen: Array<{ id: number }> = [];
    const s = await serve((q: DnsMessage) => {
      seen.push({ id: q.id });
      return reply(q, [a(q.questions[0]!.name, "192.0.2.1")]);
    });
    const c = client([s.spec()], { cacheSize: 0 });
    for (let i = 0; i < 20; i++) await c.getHostByName("www.example.test");
    assert.ok(new Set(seen.map((x) => x.id)).size >= 18, "IDs repeat too often");
    assert.ok(new Set(s.udpSourcePorts).size >= 18, "source ports repeat too often");
    assert.ok(s.udpSourcePorts.every((p) => p >= 49152));
  });

  it("gives up on a TCP server that accepts but never answers, and on a refused TCP connection", async () => {
    const s = await serve((q, via) => (via === "udp" ? reply(q, [], { tc: true }) : null));
    await rejectsWith(client([s.spec()], { timeoutMs: 1500, attempts: 1 }).getHostByName("www.example.test"), "timeout", /no (complete )?answer over TCP within 1500 ms/);
    assert.deepEqual(s.queries, ["udp A www.example.test", "tcp A www.example.test"]);
    // A port where nothing listens: the kernel refuses the connection at once.
    const probe = loopbackStack();
    probe.tcp.listen(0, (f) => void f.close());
    const [endpoint] = await probe.tcp.listening(0);
    await probe.disconnect();
    await rejectsWith(client([`tcp:127.0.0.1:${endpoint!.port}`], { attempts: 1 }).getHostByName("www.example.test"), "unreachable", /TCP/);
  });

  it("keeps 100 lookups at once apart (each its own port and ID)", async () => {
    const s = await serve((q) => {
      const name = q.questions[0]!.name;
      return reply(q, [a(name, `192.0.2.${Number(/^h(\d+)\./.exec(name)![1])}`)]);
    });
    // All 100 share one deadline: give a loaded machine room.
    const c = client([s.spec()], { timeoutMs: 5000 });
    const names = Array.from({ length: 100 }, (_, i) => `h${i + 1}.example.test`);
    const results = await Promise.allSettled(names.map((n) => c.getHostByName(n)));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${names[i]}: ${String(r.reason)}`] : []));
    const why = `${failed.join("\n")}\ncounters ${JSON.stringify(c.counters.snapshot())}\nserver got ${s.queries.length} queries`;
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : null)),
      names.map((_, i) => [`192.0.2.${i + 1}`]),
      why,
    );
    assert.equal(c.counters.get("wrong-id") + c.counters.get("wrong-question") + c.counters.get("spoofed-source"), 0);
  });
});
