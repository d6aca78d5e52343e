// Property tests: random sequences of operations give the same results (values, listings,
// digests, error codes) on tar and FAT as on the in-memory store, the oracle.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { KvRw } from "../devices/kv.ts";
import { KvError } from "../devices/errors.ts";
import { Ramdisk } from "../block/ramdisk.ts";
import { MemKv } from "./mem.ts";
import { TarKvRw } from "./tar/store.ts";
import { FatKvRw } from "./fat/store.ts";
import { formatFat } from "./fat/layout.ts";

type Op =
  | { op: "set"; key: string; value: Uint8Array }
  | { op: "setPartial"; key: string; offset: number; value: Uint8Array }
  | { op: "allocate"; key: string; size: number }
  | { op: "remove"; key: string }
  | { op: "rename"; key: string; dest: string }
  | { op: "get"; key: string }
  | { op: "getPartial"; key: string; offset: number; length: number }
  | { op: "list"; key: string }
  | { op: "exists"; key: string }
  | { op: "size"; key: string }
  | { op: "digest"; key: string };

const segment = fc.constantFrom("a", "b", "c", "a long name.text", "Ünï");
const key = fc.array(segment, { minLength: 0, maxLength: 3 }).map((s) => "/" + s.join("/"));
const value = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 500, maxLength: 1800 }));

const writes = [
  fc.record({ op: fc.constant("set" as const), key, value }),
  fc.record({ op: fc.constant("setPartial" as const), key, offset: fc.nat(1600), value }),
  fc.record({ op: fc.constant("allocate" as const), key, size: fc.nat(1300) }),
];
const reads = [
  fc.record({ op: fc.constant("get" as const), key }),
  fc.record({ op: fc.constant("getPartial" as const), key, offset: fc.nat(1600), length: fc.nat(1000) }),
  fc.record({ op: fc.constant("list" as const), key }),
  fc.record({ op: fc.constant("exists" as const), key }),
  fc.record({ op: fc.constant("size" as const), key }),
  fc.record({ op: fc.constant("digest" as const), key }),
];
const moves = [fc.record({ op: fc.constant("remove" as const), key }), fc.record({ op: fc.constant("rename" as const), key, dest: key })];

async function apply(kv: KvRw, o: Op): Promise<unknown> {
  try {
    switch (o.op) {
      case "set":
        return await kv.set(o.key, o.value);
      case "setPartial":
        return await kv.setPartial(o.key, o.offset, o.value);
      case "allocate":
        return await kv.allocate(o.key, o.size);
      case "remove":
        return await kv.remove(o.key);
      case "rename":
        return await kv.rename(o.key, o.dest);
      case "get":
        return await kv.get(o.key);
      case "getPartial":
        return await kv.getPartial(o.key, o.offset, o.length);
      case "list":
        return await kv.list(o.key);
      case "exists":
        return await kv.exists(o.key);
      case "size":
        return await kv.size(o.key);
      case "digest":
        return await kv.digest(o.key);
    }
  } catch (e) {
    if (e instanceof KvError) return { error: e.code };
    throw e;
  }
}

/** Everything in a store: every key with its kind and value. */
async function snapshot(kv: KvRw, at = "/", out: Array<[string, string | Uint8Array]> = []): Promise<typeof out> {
  for (const [k, kind] of await kv.list(at)) {
    if (kind === "dictionary") {
      out.push([k, "dictionary"]);
      await snapshot(kv, k, out);
    } else out.push([k, await kv.get(k)]);
  }
  return out;
}

function modelCheck(name: string, make: () => Promise<KvRw>, ops: fc.Arbitrary<Op>, runs: number): void {
  it(`${name} behaves like the in-memory store`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ops, { maxLength: 25 }), async (seq) => {
        const model = new MemKv();
        const real = await make();
        for (const [i, o] of seq.entries()) {
          const expected = await apply(model, o);
          const actual = await apply(real, o);
          assert.deepEqual(actual, expected, `step ${i}: ${JSON.stringify(o, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`);
        }
        assert.deepEqual(await snapshot(real), await snapshot(model));
        assert.deepEqual(await real.digest("/"), await model.digest("/"));
      }),
      { numRuns: runs },
    );
  });
}

describe("stores against the model", () => {
  modelCheck("tar (append-only operations)", async () => TarKvRw.open(new Ramdisk({ sizeSectors: 8192 })), fc.oneof(...writes, ...reads), 60);
  modelCheck(
    "tar reopened from its device",
    async () => {
      // Each operation on a store that was just re-read from disk: the index must match what was written.
      const disk = new Ramdisk({ sizeSectors: 8192 });
      const first = await TarKvRw.open(disk);
      return new Proxy(first, {
        get(target, prop, receiver) {
          const v = Reflect.get(target, prop, receiver);
          if (typeof v !== "function") return v;
          return async (...args: unknown[]) => {
            const fresh = await TarKvRw.open(disk);
            return (fresh as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[prop]!(...args);
          };
        },
      });
    },
    fc.oneof(...writes, ...reads),
    25,
  );
  modelCheck(
    "FAT12",
    async () => {
      const disk = new Ramdisk({ sizeSectors: 4096 });
      await formatFat(disk, { type: 12 });
      return FatKvRw.open(disk);
    },
    fc.oneof(...writes, ...reads, ...moves, ...moves),
    60,
  );
  modelCheck(
    "FAT32 (2-sector clusters, 4096-byte sectors)",
    async () => {
      const disk = new Ramdisk({ sizeSectors: 70000 * 2 + 2000, sectorSize: 4096 });
      await formatFat(disk, { type: 32, sectorsPerCluster: 1 });
      return FatKvRw.open(disk);
    },
    fc.oneof(...writes, ...reads, ...moves, ...moves),
    15,
  );
});
