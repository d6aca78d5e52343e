// The mock variants give tests virtual time and reproducible randomness.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as mockSleep from "./sleep/mock.ts";
import * as mockMtime from "./mtime/mock.ts";
import * as mockRandom from "./random/mock.ts";
import * as unixRandom from "./random/unix.ts";

test("mock sleep completes at once in virtual time, in deadline order", async () => {
  const start = mockMtime.nowMs();
  const order: number[] = [];
  const wall = performance.now();
  await Promise.all([mockSleep.sleep(5000).then(() => order.push(5000)), mockSleep.sleep(1000).then(() => order.push(1000)), mockSleep.sleep(3000).then(() => order.push(3000))]);
  assert.deepEqual(order, [1000, 3000, 5000]);
  assert.equal(mockMtime.nowMs() - start, 5000);
  assert.ok(performance.now() - wall < 1000, "no real waiting");
});

test("a cancelled mock timer never fires", async () => {
  let fired = false;
  const cancel = mockSleep.setTimer(100, () => (fired = true));
  cancel();
  await mockSleep.sleep(200);
  assert.equal(fired, false);
});

test("randomInt is uniform-ish and in range, for both variants", () => {
  for (const r of [mockRandom, unixRandom]) {
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 10000; i++) counts[r.randomInt(10)]++;
    for (const c of counts) assert.ok(c > 800 && c < 1200, `bucket ${c}`);
    assert.throws(() => r.randomInt(0), RangeError);
  }
});
