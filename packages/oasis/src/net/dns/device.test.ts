import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, resetArgsForTests, usage } from "../../runtime/args.ts";
import { dnsClientDevice } from "./device.ts";
import { loopbackStack } from "./test-server.ts";

beforeEach(() => resetArgsForTests());

test("--dns-servers, --dns-timeout and --dns-cache-size configure the client; the group prefixes them", async () => {
  const connect = dnsClientDevice.declare({ nameservers: null }, { name: "dns-client", group: "inner" });
  parseArgs(["--inner-dns-servers=udp:192.0.2.1,tcp:[2001:db8::1]:5353", "--inner-dns-timeout=700", "--inner-dns-cache-size=0"]);
  const stack = loopbackStack();
  const client = await connect({ stack });
  assert.deepEqual(client.nameservers, [
    { protocol: "udp", address: "192.0.2.1", port: 53 },
    { protocol: "tcp", address: "2001:db8::1", port: 5353 },
  ]);
  assert.match(usage("x"), /NETWORK OPTIONS[\s\S]*--inner-dns-servers=SERVERS/);
  await stack.disconnect();
});

test("servers from config.ts are the default; none at all is a clear error at connect", async () => {
  const connect = dnsClientDevice.declare({ nameservers: ["udp:192.0.2.53"] }, { name: "dns-client", group: "" });
  parseArgs([]);
  const stack = loopbackStack();
  assert.deepEqual((await connect({ stack })).nameservers, [{ protocol: "udp", address: "192.0.2.53", port: 53 }]);
  assert.match(usage("x"), /Default: udp:192\.0\.2\.53:53/);
  resetArgsForTests();
  const none = dnsClientDevice.declare({}, { name: "dns-client", group: "" });
  parseArgs([]);
  await assert.rejects(none({ stack }), /no DNS server configured: pass --dns-servers=udp:IP/);
  resetArgsForTests();
  dnsClientDevice.declare({}, { name: "dns-client", group: "" });
  assert.throws(() => parseArgs(["--dns-servers=8.8.8.8"]), /invalid value '8\.8\.8\.8' for --dns-servers.*has no protocol/);
  assert.throws(() => dnsClientDevice.declare({ nameservers: ["udp:nonsense"] }, { name: "dns-client", group: "x" }), /nameservers given in config\.ts are invalid/);
  await stack.disconnect();
});
