import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kvRwContract } from "./kv-contract.ts";
import { MemKv } from "./mem.ts";

kvRwContract("mem", async () => ({ kv: new MemKv() }));

describe("mem store", () => {
  it("keeps its own copy of stored bytes", async () => {
    const kv = new MemKv();
    const buf = new Uint8Array([1, 2, 3]);
    await kv.set("/k", buf);
    buf[0] = 9;
    const got = await kv.get("/k");
    assert.deepEqual(got, new Uint8Array([1, 2, 3]));
    got[1] = 9;
    assert.deepEqual(await kv.get("/k"), new Uint8Array([1, 2, 3]));
  });

  it("uses the given lastModified for allocate", async () => {
    const kv = new MemKv();
    const when = new Date(Date.UTC(2001, 2, 3));
    await kv.allocate("/a", 3, when);
    assert.equal((await kv.lastModified("/a")).getTime(), when.getTime());
  });

  it("removing the root empties the store", async () => {
    const kv = new MemKv();
    await kv.set("/a/b", "1");
    await kv.remove("/");
    assert.deepEqual(await kv.list("/"), []);
  });
});
