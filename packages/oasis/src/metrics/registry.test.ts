import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { collectMetrics, disableMetrics, enableMetrics, fieldName, listMetricsSources, metricsRules, metricsSource, resetMetricsRules, type MetricsSource } from "./registry.ts";

const made: MetricsSource[] = [];
function src(name: string, tags: Record<string, string>, collect: () => Record<string, number>): MetricsSource {
  const s = metricsSource(name, { doc: "test", tags, collect });
  made.push(s);
  return s;
}

afterEach(() => {
  for (const s of made.splice(0)) s.remove();
  resetMetricsRules();
});

test("memory is built in: rss and heap figures as whole byte counts", () => {
  const mem = collectMetrics().find((p) => p.name === "memory");
  assert.ok(mem, "no memory point");
  for (const k of ["rss", "heap_used", "heap_total", "external", "array_buffers", "heap_limit"]) {
    assert.ok(Number.isSafeInteger(mem.fields[k]) && mem.fields[k]! >= 0, `${k}=${mem.fields[k]}`);
  }
  assert.ok(mem.fields.heap_used! <= mem.fields.heap_total!);
  assert.ok(Math.abs(mem.timestampMs - Date.now()) < 5000, "timestamp is wall-clock time");
});

test("nothing is read until metrics are collected, and disabled sources are never read", () => {
  let reads = 0;
  src("probe", {}, () => ({ n: ++reads }));
  assert.equal(reads, 0);
  assert.equal(collectMetrics().find((p) => p.name === "probe")?.fields.n, 1);
  disableMetrics({ source: "probe" });
  assert.equal(collectMetrics().find((p) => p.name === "probe"), undefined);
  assert.equal(reads, 1);
});

test("instances are told apart by tags; registering the same name and tags twice is refused", () => {
  src("net", { interface: "tapA" }, () => ({ rx: 1 }));
  src("net", { interface: "tapB" }, () => ({ rx: 2 }));
  assert.throws(() => src("net", { interface: "tapA" }, () => ({})), /registered twice/);
  assert.throws(() => metricsSource("bad name", { doc: "", collect: () => ({}) }), /letters, digits/);
  assert.throws(() => metricsSource("empty-tag", { doc: "", tags: { k: "" }, collect: () => ({}) }), /must not be empty/);
  const nets = collectMetrics().filter((p) => p.name === "net");
  assert.deepEqual(nets.map((p) => [p.tags.interface, p.fields.rx]), [["tapA", 1], ["tapB", 2]]);
});

test("rules by name, tag and tag value: the last matching rule decides, * starts over", () => {
  src("net", { interface: "tapA" }, () => ({ x: 1 }));
  src("net", { interface: "tapB" }, () => ({ x: 1 }));
  src("tcp", { stack: "s1" }, () => ({ x: 1 }));
  const on = () => new Set(collectMetrics().filter((p) => p.name !== "memory" && p.name !== "probe").map((p) => `${p.name}/${Object.values(p.tags).join()}`));
  disableMetrics({ source: "net" });
  enableMetrics({ tag: "interface", value: "tapB" });
  assert.deepEqual(on(), new Set(["net/tapB", "tcp/s1"]));
  disableMetrics({ tag: "stack" });
  assert.deepEqual(on(), new Set(["net/tapB"]));
  // Re-stating a rule moves it last.
  disableMetrics({ source: "net" });
  assert.deepEqual(on(), new Set());
  assert.equal(metricsRules().length, 3);
  enableMetrics("*");
  assert.deepEqual(metricsRules(), [{ selector: "*", enable: true }]);
  assert.deepEqual(on(), new Set(["net/tapA", "net/tapB", "tcp/s1"]));
  disableMetrics("*");
  assert.deepEqual(collectMetrics(), []);
});

test("rules made before a source registers apply to it", () => {
  disableMetrics({ source: "later" });
  const s = src("later", {}, () => ({ x: 1 }));
  assert.equal(s.enabled(), false);
  assert.equal(collectMetrics().some((p) => p.name === "later"), false);
});

test("a source that throws is left out and reported; non-finite values are dropped", () => {
  src("broken", {}, () => {
    throw new Error("device gone");
  });
  src("odd", {}, () => ({ ok: 3, nan: NaN, inf: Infinity }));
  const failures: string[] = [];
  const points = collectMetrics((f) => failures.push(`${f.source.name}: ${(f.error as Error).message}`));
  assert.deepEqual(failures, ["broken: device gone"]);
  assert.deepEqual(points.find((p) => p.name === "odd")?.fields, { ok: 3 });
  assert.ok(points.some((p) => p.name === "memory"));
});

test("removed sources are gone from listings and collections", () => {
  const s = src("gone", {}, () => ({ x: 1 }));
  assert.ok(listMetricsSources().includes(s));
  s.remove();
  assert.ok(!listMetricsSources().includes(s));
  assert.ok(!collectMetrics().some((p) => p.name === "gone"));
});

test("fieldName turns counter names into snake case", () => {
  assert.equal(fieldName("rxBytes"), "rx_bytes");
  assert.equal(fieldName("SYN_SENT"), "syn_sent");
  assert.equal(fieldName("bad-checksum"), "bad_checksum");
  assert.equal(fieldName("txQueuedTotal"), "tx_queued_total");
});
