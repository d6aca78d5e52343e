import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

test("crypto prints random bytes and correct digests", async () => {
  const { bin } = await buildExample("examples/applications/crypto");
  const a = await runUnikernel(bin, ["--text=hello"]);
  const b = await runUnikernel(bin, ["--text=hello"]);
  assert.equal(a.code, 0, a.stderr);
  const bytes = (s: string) => /16 random bytes: ([0-9a-f]{32})/.exec(s)?.[1];
  assert.ok(bytes(a.stdout) && bytes(b.stdout));
  assert.notEqual(bytes(a.stdout), bytes(b.stdout), "two boots draw different random bytes");
  assert.match(a.stdout, /random source: unix/);
  for (const [alg, node] of [["SHA-256", "sha256"], ["SHA-512", "sha512"]]) {
    const expected = createHash(node!).update("hello").digest("hex");
    assert.ok(a.stdout.includes(`${alg}("hello") = ${expected}`), `${alg} digest`);
  }
});
