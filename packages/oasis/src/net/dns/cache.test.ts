import { test } from "node:test";
import assert from "node:assert/strict";
import { TtlCache } from "./cache.ts";

test("entries expire after their TTL and report the seconds left", () => {
  const c = new TtlCache<string>(4);
  c.set("a", "A", 10, 1000);
  assert.deepEqual(c.get("a", 1000), { value: "A", ttl: 10 });
  assert.deepEqual(c.get("a", 4500), { value: "A", ttl: 6 });
  assert.equal(c.get("a", 11_000), undefined);
  assert.equal(c.size, 0, "an expired entry is dropped when seen");
  c.set("zero", "Z", 0, 0);
  assert.equal(c.get("zero", 0), undefined, "TTL 0 is not cached");
});

test("when full, the least recently used entry goes", () => {
  const c = new TtlCache<number>(2);
  c.set("a", 1, 60, 0);
  c.set("b", 2, 60, 0);
  c.get("a", 1); // a is now more recent than b
  c.set("c", 3, 60, 2);
  assert.equal(c.get("b", 3), undefined);
  assert.equal(c.get("a", 3)?.value, 1);
  assert.equal(c.get("c", 3)?.value, 3);
  assert.equal(c.size, 2);
  const off = new TtlCache<number>(0);
  off.set("a", 1, 60, 0);
  assert.equal(off.get("a", 0), undefined);
  assert.throws(() => new TtlCache(-1), /non-negative integer/);
});
