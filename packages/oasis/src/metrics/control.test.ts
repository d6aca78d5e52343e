import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { levels, setLevels, source } from "oasis/logs";
import { handleCommand } from "./control.ts";
import { collectMetrics, metricsSource, resetMetricsRules, type MetricsSource } from "./registry.ts";

const made: MetricsSource[] = [];
afterEach(() => {
  for (const s of made.splice(0)) s.remove();
  resetMetricsRules();
  setLevels([["*", "info"]]);
});

test("L sets log levels with the -l syntax; l, l* and lNAMES read them back", () => {
  const app = source("ctl-app", "test");
  source("ctl-other", "test");
  assert.equal(handleCommand("L*:warning,ctl-app:debug\n"), "ok");
  assert.equal(app.enabled("debug"), true);
  assert.equal(levels().default, "warning");
  assert.equal(handleCommand("l"), "ok: *:warning,ctl-app:debug");
  assert.match(handleCommand("l*"), /^ok: \*:warning,(.*,)?ctl-app:debug,ctl-other:warning(,|$)/);
  assert.equal(handleCommand("lctl-other,ctl-app"), "ok: ctl-other:warning,ctl-app:debug");
  assert.equal(handleCommand("L*:info"), "ok");
});

test("bad log commands change nothing and say why", () => {
  assert.equal(handleCommand("L*:debug,x:loud"), "error: unknown level 'loud' (app, error, warning, info, debug or quiet)");
  assert.equal(levels().default, "info");
  assert.equal(handleCommand("L"), "error: L needs log thresholds, e.g. L*:info,tcp:debug");
  assert.equal(handleCommand("lno-such-source"), "error: unknown log source no-such-source (l* lists them)");
});

test("M switches sources by name, src:, tag: and *; m, m* and mNAMES list them", () => {
  made.push(metricsSource("ctl-net", { doc: "", tags: { interface: "tapA" }, collect: () => ({ x: 1 }) }));
  made.push(metricsSource("ctl-net", { doc: "", tags: { interface: "tapB" }, collect: () => ({ x: 1 }) }));
  assert.equal(handleCommand("m"), "ok: *:enable");
  assert.equal(handleCommand("Mmemory:disable,tag:interface=tapB:off"), "ok");
  assert.equal(handleCommand("m"), "ok: *:enable,memory:disable,tag:interface=tapB:disable");
  assert.equal(handleCommand("mctl-net"), "ok: ctl-net{interface=tapA}:enable,ctl-net{interface=tapB}:disable");
  assert.match(handleCommand("m*"), /^ok: memory:disable,.*ctl-net\{interface=tapA\}:enable/);
  assert.deepEqual(collectMetrics().map((p) => `${p.name}/${p.tags.interface ?? ""}`), ["ctl-net/tapA"]);
  assert.equal(handleCommand("M*:enable"), "ok");
  assert.equal(handleCommand("m"), "ok: *:enable");
  assert.equal(handleCommand("Msrc:ctl-net:disable,tag:interface:on"), "ok");
  assert.equal(collectMetrics().filter((p) => p.name === "ctl-net").length, 2);
});

test("bad metrics commands are errors and leave the rules as they were", () => {
  assert.equal(handleCommand("Mmemory:disable,nosuch:disable"), "error: unknown metrics source 'nosuch' (known: memory)");
  assert.equal(handleCommand("m"), "ok: *:enable");
  assert.equal(handleCommand("Mmemory:maybe"), "error: 'memory:maybe': expected enable or disable (on, off) after the last ':'");
  assert.equal(handleCommand("Mmemory"), "error: 'memory': expected NAME:enable, src:NAME:enable, tag:KEY[=VALUE]:enable or *:enable (or disable)");
  assert.equal(handleCommand("Mtag:nosuch:off"), "error: no metrics source has the tag nosuch (m* lists sources with their tags)");
  assert.equal(handleCommand("mnosuch"), "error: unknown metrics source nosuch (m* lists them)");
});

test("unknown and empty commands are errors", () => {
  assert.match(handleCommand("X"), /^error: unknown command 'X'/);
  assert.match(handleCommand("hello world"), /^error: unknown command 'h'/);
  assert.match(handleCommand(""), /^error: empty command/);
  assert.match(handleCommand("\r\n"), /^error: empty command/);
});
