import { test } from "node:test";
import assert from "node:assert/strict";
import { formatNameserver, parseNameserver, parseNameservers } from "./nameserver.ts";

test("reads udp:IP(:PORT) and tcp:IP(:PORT), IPv6 bare or in brackets with a port", () => {
  assert.deepEqual(parseNameserver("udp:192.0.2.1"), { protocol: "udp", address: "192.0.2.1", port: 53 });
  assert.deepEqual(parseNameserver("tcp:192.0.2.1:5353"), { protocol: "tcp", address: "192.0.2.1", port: 5353 });
  assert.deepEqual(parseNameserver("udp:2001:DB8::1"), { protocol: "udp", address: "2001:db8::1", port: 53 });
  assert.deepEqual(parseNameserver("tcp:[2001:db8::1]:853"), { protocol: "tcp", address: "2001:db8::1", port: 853 });
  assert.deepEqual(parseNameservers("udp:192.0.2.1, tcp:192.0.2.1:53").map(formatNameserver), ["udp:192.0.2.1:53", "tcp:192.0.2.1:53"]);
  assert.equal(formatNameserver(parseNameserver("udp:[2001:db8::1]:53")), "udp:[2001:db8::1]:53");
});

test("bad specifications say what is wrong and what to write", () => {
  assert.throws(() => parseNameserver("192.0.2.1"), /'192\.0\.2\.1' has no protocol: expected udp:IP/);
  assert.throws(() => parseNameserver("tls:192.0.2.1"), /DNS over TLS is not supported/);
  assert.throws(() => parseNameserver("udp:ns.example.test"), /'ns\.example\.test' is not an IP address/);
  assert.throws(() => parseNameserver("udp:192.0.2.1:0"), /port '0' is not a number from 1 to 65535/);
  assert.throws(() => parseNameserver("udp:192.0.2.1:99999"), /port '99999'/);
  assert.throws(() => parseNameservers("udp:192.0.2.1,,udp:192.0.2.2"), /empty entry/);
});
