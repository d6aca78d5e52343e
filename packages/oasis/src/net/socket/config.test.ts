import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { parseArgs, resetArgsForTests, usage, ArgumentError } from "../../runtime/args.ts";
import { declareSocketConfig } from "./config.ts";
import { canonicalAddress } from "./address.ts";

beforeEach(() => resetArgsForTests());

test("reads --ipv4, --ipv6 and the *-only flags under the device's group", () => {
  const read = declareSocketConfig({ name: "stack", group: "" });
  parseArgs(["--ipv4=192.0.2.2/24", "--ipv6", "2001:DB8:0::2/64", "--ipv4-only"]);
  assert.deepEqual(read(), {
    ipv4: { address: "192.0.2.2", prefixLength: 24 },
    ipv6: { address: "2001:db8::2", prefixLength: 64 },
    ipv4Only: true,
    ipv6Only: false,
  });
});

test("defaults bind every address, and grouped names get the prefix", () => {
  const read = declareSocketConfig({ name: "stack", group: "data" });
  parseArgs([]);
  assert.deepEqual(read().ipv4, { address: "0.0.0.0", prefixLength: 0 });
  assert.deepEqual(read().ipv6, { address: "::", prefixLength: 0 });
  assert.match(usage("x"), /--data-ipv4=PREFIX/);
  assert.match(usage("x"), /NETWORK OPTIONS/);
});

test("bad prefixes and contradictory flags are refused with a clear message", () => {
  const read = declareSocketConfig({ name: "stack", group: "" });
  assert.throws(() => parseArgs(["--ipv4=2001:db8::1/64"]), (e: unknown) => e instanceof ArgumentError && /--ipv4.*not an IPv4 address/.test(e.message));
  assert.throws(() => parseArgs(["--ipv4=192.0.2.1/33"]), /prefix length '33'/);
  parseArgs(["--ipv4-only", "--ipv6-only"]);
  assert.throws(() => read(), /--ipv4-only and --ipv6-only exclude each other/);
});

test("canonical addresses: IPv4-mapped IPv6 becomes IPv4, IPv6 is compressed", () => {
  assert.equal(canonicalAddress("::ffff:192.0.2.7"), "192.0.2.7");
  assert.equal(canonicalAddress("2001:0DB8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
});

test("the device modules the DSL names declare their arguments and connect to working devices", async () => {
  const { socketStackDevice, socketTcpDevice, socketUdpDevice, SocketStack, SocketTcp, SocketUdp } = await import("./index.ts");
  const connectStack = socketStackDevice.declare({}, { name: "socket-stack", group: "" });
  const connectTcp = socketTcpDevice.declare({}, { name: "socket-tcp", group: "" });
  const connectUdp = socketUdpDevice.declare({}, { name: "socket-udp", group: "" });
  parseArgs(["--ipv6-only"]);
  const stack = await connectStack({});
  assert.ok(stack instanceof SocketStack);
  assert.equal(stack.ip.family, "ipv6");
  assert.ok((await connectTcp({})) instanceof SocketTcp);
  assert.ok((await connectUdp({})) instanceof SocketUdp);
  await stack.disconnect();
});
