// Behaviour every KvRw store shares, run against each implementation (mem, direct, tar, FAT).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KvRw } from "../devices/kv.ts";
import { KvError } from "../devices/errors.ts";
import { sha256 } from "./sha256.ts";

export interface KvContractOptions {
  /** tar is append-only: remove and rename are refused. */
  appendOnly?: boolean;
}

export async function rejectsCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof KvError, `expected KvError(${code}), got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

export function kvRwContract(name: string, make: () => Promise<{ kv: KvRw; done?: () => Promise<void> }>, options: KvContractOptions = {}): void {
  const test = (title: string, body: (kv: KvRw) => Promise<void>) =>
    it(title, async () => {
      const { kv, done } = await make();
      try {
        await body(kv);
      } finally {
        await done?.();
      }
    });

  describe(`KvRw contract: ${name}`, () => {
    test("stores and reads back values, with and without a leading slash", async (kv) => {
      await kv.set("a/b/c", "hello");
      assert.equal(text(await kv.get("/a/b/c")), "hello");
      assert.equal(await kv.exists("/a"), "dictionary");
      assert.equal(await kv.exists("a/b/c"), "value");
      assert.equal(await kv.exists("/nope"), null);
      assert.equal(await kv.exists("/"), "dictionary");
      assert.equal(await kv.size("/a/b/c"), 5);
      await kv.set("/a/b/c", new Uint8Array([1, 2, 3]));
      assert.deepEqual(await kv.get("/a/b/c"), new Uint8Array([1, 2, 3]));
    });

    test("rejects malformed keys with invalid-key", async (kv) => {
      for (const k of ["a//b", "a/", "/a/../b", "./a", "a\0b"]) await rejectsCode(kv.get(k), "invalid-key");
      await rejectsCode(kv.set("x/../y", "v"), "invalid-key");
    });

    test("reports missing keys and wrong kinds", async (kv) => {
      await kv.set("/d/v", "1");
      await rejectsCode(kv.get("/missing"), "not-found");
      await rejectsCode(kv.get("/d"), "value-expected");
      await rejectsCode(kv.list("/d/v"), "dictionary-expected");
      await rejectsCode(kv.set("/d/v/w", "x"), "dictionary-expected");
      await rejectsCode(kv.set("/d", "x"), "value-expected");
      await rejectsCode(kv.set("/", "x"), "value-expected");
      assert.equal(text(await kv.get("/d/v")), "1");
    });

    test("lists direct children with absolute keys, sorted", async (kv) => {
      await kv.set("/z", "1");
      await kv.set("/b/x", "2");
      await kv.set("/a", "3");
      await kv.set("/b/y/deep", "4");
      assert.deepEqual(await kv.list("/"), [["/a", "value"], ["/b", "dictionary"], ["/z", "value"]]);
      assert.deepEqual(await kv.list("b"), [["/b/x", "value"], ["/b/y", "dictionary"]]);
    });

    test("reads partial values, short or empty past the end", async (kv) => {
      await kv.set("/p", "0123456789");
      assert.equal(text(await kv.getPartial("/p", 2, 3)), "234");
      assert.equal(text(await kv.getPartial("/p", 8, 10)), "89");
      assert.equal((await kv.getPartial("/p", 20, 5)).length, 0);
      assert.equal(text(await kv.getPartial("/p", 7, Number.MAX_SAFE_INTEGER)), "789");
    });

    test("digests are SHA-256 of the value and change with a dictionary's contents", async (kv) => {
      await kv.set("/d/v", "abc");
      assert.deepEqual(await kv.digest("/d/v"), sha256(new TextEncoder().encode("abc")));
      const before = await kv.digest("/d");
      await kv.set("/d/w", "x");
      assert.notDeepEqual(await kv.digest("/d"), before);
    });

    test("lastModified is a plausible date", async (kv) => {
      await kv.set("/t", "x");
      const d = await kv.lastModified("/t");
      assert.ok(d instanceof Date && !Number.isNaN(d.getTime()));
    });

    test("setPartial overwrites in place and zero-fills gaps", async (kv) => {
      await kv.set("/s", "abcdef");
      await kv.setPartial("/s", 2, "XY");
      assert.equal(text(await kv.get("/s")), "abXYef");
      await kv.setPartial("/s", 8, "Z");
      assert.deepEqual(await kv.get("/s"), new TextEncoder().encode("abXYef\0\0Z"));
      await kv.setPartial("/new/n", 3, "q");
      assert.deepEqual(await kv.get("/new/n"), new Uint8Array([0, 0, 0, 113]));
    });

    test("allocate creates zero-filled values and refuses existing keys", async (kv) => {
      await kv.allocate("/z/a", 1000);
      assert.deepEqual(await kv.get("/z/a"), new Uint8Array(1000));
      await rejectsCode(kv.allocate("/z/a", 10), "already-present");
      await rejectsCode(kv.allocate("/z", 10), "already-present");
    });

    test("concurrent writes all land", async (kv) => {
      await Promise.all(Array.from({ length: 16 }, (_, i) => kv.set(`/c/k${i % 4}/v${i}`, `value ${i}`.repeat(60))));
      for (let i = 0; i < 16; i++) assert.equal(text(await kv.get(`/c/k${i % 4}/v${i}`)), `value ${i}`.repeat(60));
    });

    if (options.appendOnly) {
      test("refuses remove and rename with read-only, leaving data intact", async (kv) => {
        await kv.set("/k", "v");
        await rejectsCode(kv.remove("/k"), "read-only");
        await rejectsCode(kv.rename("/k", "/l"), "read-only");
        assert.equal(text(await kv.get("/k")), "v");
      });
      return;
    }

    test("removes values and whole dictionaries; absent keys are fine", async (kv) => {
      await kv.set("/r/a", "1");
      await kv.set("/r/b/c", "2");
      await kv.set("/keep", "3");
      await kv.remove("/r/a");
      assert.equal(await kv.exists("/r/a"), null);
      await kv.remove("/r");
      assert.equal(await kv.exists("/r"), null);
      await kv.remove("/r/nothing");
      await kv.remove("/never");
      assert.deepEqual(await kv.list("/"), [["/keep", "value"]]);
    });

    test("renames values and dictionaries, into a dictionary destination", async (kv) => {
      await kv.set("/a", "1");
      await kv.rename("/a", "/b");
      assert.equal(await kv.exists("/a"), null);
      assert.equal(text(await kv.get("/b")), "1");
      await kv.set("/dir/x", "2");
      await kv.rename("/b", "/dir");
      assert.equal(text(await kv.get("/dir/b")), "1");
      await kv.rename("/dir", "/moved/deeper");
      assert.deepEqual(await kv.list("/moved/deeper"), [["/moved/deeper/b", "value"], ["/moved/deeper/x", "value"]]);
      await kv.set("/over", "old");
      await kv.rename("/moved/deeper/x", "/over");
      assert.equal(text(await kv.get("/over")), "2");
    });

    test("refuses to rename a dictionary into itself, and missing sources", async (kv) => {
      await kv.set("/s/t", "1");
      await rejectsCode(kv.rename("/s", "/s/t/u"), "rename-source-prefix");
      await rejectsCode(kv.rename("/s", "/s"), "rename-source-prefix");
      await rejectsCode(kv.rename("/absent", "/x"), "not-found");
      assert.equal(text(await kv.get("/s/t")), "1");
    });
  });
}
