import { test } from "node:test";
import assert from "node:assert/strict";
import { parseThresholds, setLevels, setReporter, source, type Level } from "./core.ts";

test("per-source thresholds: *:warning silences info except where a source asks for debug", () => {
  const seen: Array<[Level, string, string]> = [];
  setReporter((level, src, msg) => seen.push([level, src, msg]));
  const tcp = source("tcp-test");
  const arp = source("arp-test");
  setLevels(parseThresholds("*:warning,tcp-test:debug"));
  tcp.debug("segment");
  arp.info("who-has");
  arp.warn("conflict");
  let built = 0;
  arp.debug(() => `expensive ${++built}`);
  assert.deepEqual(seen, [
    ["debug", "tcp-test", "segment"],
    ["warning", "arp-test", "conflict"],
  ]);
  assert.equal(built, 0, "a disabled message is never formatted");
  setLevels(parseThresholds("*:info"));
});

test("threshold syntax errors name the bad level", () => {
  assert.throws(() => parseThresholds("*:loud"), /unknown level 'loud'/);
  assert.deepEqual(parseThresholds("debug"), [["*", "debug"]]);
  assert.deepEqual(parseThresholds("a:warn, b:quiet"), [["a", "warning"], ["b", "quiet"]]);
});
