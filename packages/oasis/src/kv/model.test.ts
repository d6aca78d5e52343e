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
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

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

// Few names, so operations often meet existing entries; two long names share an 8.3 basis (~1, ~2).
const segment = fc.constantFrom("a", "b", "c", "a long name.text", "a long name.texts", "Ünï");
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

/** KV_MODEL_RUNS=10 runs ten times as many cases (a soak run before a release). */
const RUNS_SCALE = Number(process.env.KV_MODEL_RUNS ?? 1);

type Peer = (disk: Ramdisk, model: MemKv) => Promise<void>;

function modelCheck(name: string, make: () => Promise<KvRw | { kv: KvRw; disk: Ramdisk }>, ops: fc.Arbitrary<Op>, runs: number, peer?: Peer): void {
  it(`${name} behaves like the in-memory store${peer ? ", and the real tool agrees" : ""}`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(ops, { maxLength: 25 }), async (seq) => {
        const model = new MemKv();
        const made = await make();
        const real = "kv" in made ? made.kv : made;
        for (const [i, o] of seq.entries()) {
          const expected = await apply(model, o);
          const actual = await apply(real, o);
          assert.deepEqual(actual, expected, `step ${i}: ${JSON.stringify(o, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))}`);
        }
        assert.deepEqual(await snapshot(real), await snapshot(model));
        assert.deepEqual(await real.digest("/"), await model.digest("/"));
        if (peer && "disk" in made) await peer(made.disk, model);
      }),
      { numRuns: Math.ceil(runs * RUNS_SCALE) },
    );
  });
}

/** Every file and directory under `root` on the host, as a snapshot comparable with the model's. */
function hostSnapshot(root: string, at = "", out: Array<[string, string | Uint8Array]> = []): typeof out {
  for (const name of readdirSync(join(root, at)).sort()) {
    const rel = `${at}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) {
      out.push([rel, "dictionary"]);
      hostSnapshot(root, rel, out);
    } else out.push([rel, new Uint8Array(readFileSync(join(root, rel)))]);
  }
  return out;
}

async function withImage(disk: Ramdisk, body: (img: string, dir: string) => void): Promise<void> {
  const { sizeSectors, sectorSize } = await disk.info();
  const raw = new Uint8Array(sizeSectors * sectorSize);
  await disk.read(0, raw);
  const dir = mkdtempSync(join(tmpdir(), "oasis-kv-peer-"));
  try {
    writeFileSync(join(dir, "disk.img"), raw);
    body(join(dir, "disk.img"), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const gnuTarExtracts: Peer = async (disk, model) => {
  const expected = await snapshot(model);
  await withImage(disk, (img, dir) => {
    const out = join(dir, "out");
    mkdirSync(out);
    execFileSync("tar", ["-xf", img, "-C", out]);
    assert.deepEqual(hostSnapshot(out).sort(byKey), expected.sort(byKey));
  });
};

const dosfstoolsAgree: Peer = async (disk, model) => {
  const expected = await snapshot(model);
  await withImage(disk, (img, dir) => {
    const fsck = spawnSync("fsck.fat", ["-n", "-V", img], { encoding: "utf8" });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    const out = join(dir, "out");
    mkdirSync(out);
    if (expected.length === 0) return; // nothing for "::/*" to match
    execFileSync("mcopy", ["-s", "-n", "-i", img, "::/*", out], { env: { ...process.env, MTOOLS_SKIP_CHECK: "1", LC_ALL: "C.UTF-8" }, stdio: ["ignore", "ignore", "pipe"] });
    assert.deepEqual(hostSnapshot(out).sort(byKey), expected.sort(byKey));
  });
};

const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

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
    "tar written by us, extracted by GNU tar",
    async () => {
      const disk = new Ramdisk({ sizeSectors: 4096 });
      return { kv: await TarKvRw.open(disk), disk };
    },
    fc.oneof(...writes),
    12,
    gnuTarExtracts,
  );
  modelCheck(
    "FAT16 written by us, checked by fsck.fat and copied out by mcopy",
    async () => {
      const disk = new Ramdisk({ sizeSectors: 16 * 2048 });
      await formatFat(disk, { type: 16 });
      return { kv: await FatKvRw.open(disk), disk };
    },
    fc.oneof(...writes, ...moves),
    12,
    dosfstoolsAgree,
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
