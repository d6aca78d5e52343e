import { test } from "node:test";
import assert from "node:assert/strict";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

test("the speaking clock tells wall-clock time and monotonic elapsed time", async () => {
  const { bin } = await buildExample("examples/device-usage/clock");
  const before = Date.now();
  const r = await runUnikernel(bin, ["--ticks=2"]);
  assert.equal(r.code, 0, r.stderr);
  const said = [...r.stdout.matchAll(/The time is (\S+) \(UTC offset ([+-]\d\d:\d\d)\); ([\d.]+) ms since start/g)];
  assert.equal(said.length, 2, r.stdout);
  const t = Date.parse(said[0]![1]!);
  assert.ok(Math.abs(t - before) < 10_000, `wall clock ${said[0]![1]} far from ${new Date(before).toISOString()}`);
  assert.ok(Number(said[1]![3]) - Number(said[0]![3]) >= 900, "monotonic clock advanced about a second");
});
