import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createHash } from "node:crypto";
import { DirectKvRo, DirectKvRw } from "./direct.ts";
import { kvRwContract, rejectsCode } from "./kv-contract.ts";

async function scratch(): Promise<{ base: string; store: string; done: () => Promise<void> }> {
  const base = await mkdtemp(join(tmpdir(), "oasis-kv-direct-"));
  const store = join(base, "store");
  await mkdir(store);
  return { base, store, done: () => rm(base, { recursive: true, force: true }) };
}

kvRwContract("direct", async () => {
  const s = await scratch();
  return { kv: await DirectKvRw.open(s.store), done: s.done };
});

describe("direct store", () => {
  it("reads files written by the host and writes files the host can read", async () => {
    const s = await scratch();
    try {
      await mkdir(join(s.store, "sub"));
      await writeFile(join(s.store, "sub", "f.txt"), "from host");
      const kv = await DirectKvRw.open(s.store);
      assert.equal(new TextDecoder().decode(await kv.get("/sub/f.txt")), "from host");
      await kv.set("/out/g.txt", "from store");
      assert.equal(await readFile(join(s.store, "out", "g.txt"), "utf8"), "from store");
      assert.deepEqual(await readdir(join(s.store, "out")), ["g.txt"], "no temporary file is left behind");
    } finally {
      await s.done();
    }
  });

  it("never follows a symlink out of its directory, for reads, lists or writes", async () => {
    const s = await scratch();
    try {
      await writeFile(join(s.base, "secret"), "outside");
      await mkdir(join(s.base, "outdir"));
      await symlink(join(s.base, "secret"), join(s.store, "leak"));
      await symlink("../outdir", join(s.store, "leakdir"));
      await writeFile(join(s.store, "inner"), "inside");
      await symlink("inner", join(s.store, "alias"));
      const kv = await DirectKvRw.open(s.store);
      await rejectsCode(kv.get("/leak"), "invalid-key");
      await rejectsCode(kv.set("/leakdir/x", "escape"), "invalid-key");
      await rejectsCode(kv.setPartial("/leak", 0, "overwrite"), "invalid-key");
      assert.deepEqual(await readdir(join(s.base, "outdir")), []);
      assert.equal(await readFile(join(s.base, "secret"), "utf8"), "outside");
      assert.deepEqual(await kv.list("/"), [["/alias", "value"], ["/inner", "value"]]);
      assert.equal(new TextDecoder().decode(await kv.get("/alias")), "inside", "links that stay inside are followed");
      await kv.remove("/leak");
      assert.equal(await readFile(join(s.base, "secret"), "utf8"), "outside", "removing a link never touches its target");
    } finally {
      await s.done();
    }
  });

  it("refuses keys with '..' before touching the file system", async () => {
    const s = await scratch();
    try {
      const kv = await DirectKvRw.open(s.store);
      await rejectsCode(kv.set("/../escaped", "x"), "invalid-key");
      await rejectsCode(kv.set("/.oasis-tmp-1234-x", "x"), "invalid-key");
      assert.deepEqual(await readdir(s.base), ["store"]);
    } finally {
      await s.done();
    }
  });

  it("digests follow changes made by the host, even of the same size", async () => {
    const s = await scratch();
    try {
      const kv = await DirectKvRo.open(s.store);
      await writeFile(join(s.store, "f"), "aaaa");
      const first = await kv.digest("/f");
      assert.deepEqual(await kv.digest("/f"), first);
      await writeFile(join(s.store, "f"), "bbbb");
      assert.deepEqual(await kv.digest("/f"), new Uint8Array(createHash("sha256").update("bbbb").digest()));
    } finally {
      await s.done();
    }
  });

  it("the read-only store has no write methods and explains a missing directory", async () => {
    const s = await scratch();
    try {
      const ro = await DirectKvRo.open(s.store);
      assert.equal("set" in ro, false);
      await assert.rejects(DirectKvRo.open(join(s.base, "missing")), /cannot be opened .*create it/);
    } finally {
      await s.done();
    }
  });
});
