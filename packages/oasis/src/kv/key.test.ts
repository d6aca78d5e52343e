import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KvError } from "../devices/errors.ts";
import { normalizeKey, parseKey } from "./key.ts";

describe("keys", () => {
  it("treats a leading slash as optional and the empty key as the root", () => {
    assert.deepEqual(parseKey("/a/b"), ["a", "b"]);
    assert.deepEqual(parseKey("a/b"), ["a", "b"]);
    assert.deepEqual(parseKey("/"), []);
    assert.deepEqual(parseKey(""), []);
    assert.equal(normalizeKey("x/y"), "/x/y");
  });

  it("rejects empty, '.', '..' and NUL segments, naming the key", () => {
    for (const bad of ["a//b", "a/", "//", ".", "a/./b", "..", "/a/..", "a\0"]) {
      assert.throws(() => parseKey(bad), (e: unknown) => e instanceof KvError && e.code === "invalid-key" && e.message.includes(JSON.stringify(bad)));
    }
  });

  it("accepts names that merely contain dots", () => {
    assert.deepEqual(parseKey("/.hidden/a..b/..."), [".hidden", "a..b", "..."]);
  });
});
