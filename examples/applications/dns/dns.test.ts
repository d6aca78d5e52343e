// The built dns example against dnsmasq on loopback (socket stack).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";
import { dnsmasqUnavailable, startDnsmasq, type Dnsmasq } from "../../../packages/oasis/src/net/dns/dnsmasq.ts";
import { netnsUnavailable, withNetns } from "../../../test/support/netns.ts";

describe("dns example", { skip: dnsmasqUnavailable() }, () => {
  let dnsmasq: Dnsmasq;
  let bin: string;
  before(async () => {
    dnsmasq = await startDnsmasq(["--local-ttl=60", "--address=/example.test/192.0.2.7", "--host-record=dual.test,192.0.2.8,2001:db8::8", "--address=/nx.test/"]);
    ({ bin } = await buildExample("examples/applications/dns"));
  });
  after(async () => {
    await dnsmasq?.stop();
  });

  it("logs the addresses dnsmasq has for --domain-name", async () => {
    const servers = `--dns-servers=udp:127.0.0.1:${dnsmasq.port}`;
    const r = await runUnikernel(bin, [servers, "--domain-name=www.example.test"]); // dual-stack sockets by default
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /www\.example\.test has IPv4 address 192\.0\.2\.7/);
    const dual = await runUnikernel(bin, [servers, "--domain-name=dual.test", "--ipv4-only"]);
    assert.equal(dual.code, 0, dual.stdout + dual.stderr);
    assert.match(dual.stdout, /dual\.test has IPv4 address 192\.0\.2\.8/);
    assert.match(dual.stdout, /dual\.test has IPv6 address 2001:db8::8/);
  });

  it("exits 1 with the reason when the name does not exist, and explains a missing --dns-servers", async () => {
    const r = await runUnikernel(bin, [`--dns-servers=udp:127.0.0.1:${dnsmasq.port}`, "--domain-name=gone.nx.test", "--ipv4-only"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /gone\.nx\.test does not exist/);
    const none = await runUnikernel(bin, ["--domain-name=www.example.test"]);
    assert.notEqual(none.code, 0);
    assert.match(none.stdout + none.stderr, /no DNS server configured: pass --dns-servers=udp:IP/);
    const bad = await runUnikernel(bin, ["--dns-servers=127.0.0.1"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /invalid value '127\.0\.0\.1' for --dns-servers/);
  });

  it("resolves on Oasis's own stack (--net=direct) in a network namespace", { skip: netnsUnavailable() }, async () => {
    const direct = await buildExample("examples/applications/dns", ["--net=direct"]);
    await withNetns(
      async (ns) => {
        const inside = await startDnsmasq(["--local-ttl=60", "--host-record=dual.test,192.0.2.8,2001:db8::8"], { netns: ns.name, address: ns.kernelIp, port: 53 });
        try {
          const u = ns.run(direct.bin, ["--ipv4=192.0.2.2/24", `--dns-servers=udp:${ns.kernelIp}`, "--domain-name=dual.test"]);
          const { code } = await u.exited;
          assert.equal(code, 0, u.output());
          assert.match(u.output(), /dual\.test has IPv4 address 192\.0\.2\.8/);
          assert.match(u.output(), /dual\.test has IPv6 address 2001:db8::8/);
        } finally {
          await inside.stop();
        }
      },
      { kernelAddress: "192.0.2.1/24", timeoutMs: 90_000 },
    );
  });
});
