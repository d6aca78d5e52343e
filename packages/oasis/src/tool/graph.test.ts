import { test } from "node:test";
import assert from "node:assert/strict";
import { main, ifImpl, matchImpl, impl, typ } from "../config/impl.ts";
import { key, targetKey } from "../config/key.ts";
import { block, blockOfFile, genericStackv4v6, defaultNetwork, stackv4v6, ramdisk } from "../config/devices.ts";
import { collectKeys, evaluate, keyContext, ConfigError } from "./graph.ts";
import type { Registration } from "../config/impl.ts";

function reg(jobs: Registration["jobs"]): Registration {
  return { name: "t", version: "0.1.0", jobs };
}

test("identical devices built twice are one instance; dependencies come first", () => {
  const m = main("./u.ts", { a: block, b: block });
  const g = evaluate(reg([m({ a: blockOfFile("x.img"), b: blockOfFile("x.img") }).node]), keyContext(new Map()));
  assert.equal(g.instances.length, 2);
  assert.equal(g.instances[0]!.kind, "device");
  assert.equal(g.jobs[0]!.deps.a, g.jobs[0]!.deps.b);
});

test("--net chooses kernel sockets or the direct stack, with its layers in order", () => {
  const m = main("./u.ts", { stack: stackv4v6 });
  const job = m({ stack: genericStackv4v6(defaultNetwork) }).node;
  const socket = evaluate(reg([job]), keyContext(new Map()));
  assert.deepEqual(socket.instances.map((i) => (i.kind === "device" ? i.node.export : "job")), ["socketStackDevice", "job"]);
  const direct = evaluate(reg([job]), keyContext(new Map([["net", "direct"]])));
  const order = direct.instances.map((i) => (i.kind === "device" ? i.node.export : "job"));
  assert.deepEqual(order.slice(0, 4), ["tapDevice", "ethernetDevice", "arpDevice", "ipv4Device"]);
  assert.equal(order.at(-1), "job");
  for (const i of direct.instances) for (const d of Object.values(i.deps)) assert.ok(d.level < i.level, "deps are on lower levels");
  const dhcp = evaluate(reg([job]), keyContext(new Map<string, unknown>([["net", "direct"], ["dhcp", true]])));
  assert.ok(dhcp.instances.some((i) => i.kind === "device" && i.node.export === "dhcpIpv4Device"));
});

test("keys of every branch are collected, target first", () => {
  const flavour = key.enum({ name: "flavour", values: ["a", "b"] as const, default: "a", doc: "d" });
  const m = main("./u.ts", { d: block });
  const j = m({ d: matchImpl(flavour, [["b", ramdisk("r")]], blockOfFile("f.img")) }).node;
  assert.deepEqual(collectKeys(reg([j])).map((k) => k.name), [targetKey.name, "flavour"]);
  const g = evaluate(reg([j]), keyContext(new Map([["flavour", "b"]])));
  assert.equal((g.instances[0] as { node: { export: string } }).node.export, "ramdiskDevice");
});

test("a device not available on the target is refused with the alternatives named", () => {
  const only = impl({ typ: block, name: "xen-disk", description: "xen block front", module: "m", export: "e", targets: ["xen"] });
  const m = main("./u.ts", { d: block });
  assert.throws(() => evaluate(reg([m({ d: only }).node]), keyContext(new Map())), (e: Error) => e instanceof ConfigError && /xen block front \(block\) is not available on target 'unix' \(it exists on: xen\)/.test(e.message));
});

test("ifImpl keeps only the types both branches provide", () => {
  const t = typ("thing");
  const a = impl({ typ: t, name: "a", description: "a", module: "m", export: "a" });
  const b = impl({ typ: t, name: "b", description: "b", module: "m", export: "b" });
  const choice = ifImpl(key.flag({ name: "pick-b", doc: "d" }), b, a);
  assert.deepEqual(choice.provides, ["thing"]);
  const g = evaluate(reg([main("./u.ts", { x: t })({ x: choice }).node]), keyContext(new Map([["pick-b", true]])));
  assert.equal((g.instances[0] as { node: { export: string } }).node.export, "b");
});
