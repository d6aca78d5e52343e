import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ramdisk } from "../block/ramdisk.ts";
import * as kv from "./index.ts";
import { parseArgs, resetArgsForTests } from "../runtime/args.ts";

describe("oasis/kv device modules", () => {
  it("export every device the config DSL names for oasis/kv", () => {
    const catalogue = readFileSync(new URL("../config/devices.ts", import.meta.url), "utf8");
    const names = [...catalogue.matchAll(/module: "oasis\/kv",\s*export: "(\w+)"/g)].map((m) => m[1]!);
    assert.ok(names.length >= 8, `found ${names.join(", ")}`);
    const modules = kv as unknown as Record<string, { declare?: unknown } | undefined>;
    for (const n of names) assert.equal(typeof modules[n]?.declare, "function", n);
  });

  it("connect with the options and deps the generated main passes", async () => {
    const ctx = { name: "t", group: "" };
    const mem = await kv.memKvDevice.declare({ name: "mem" }, ctx)({});
    await mem.set("/a", "1");
    assert.equal(await mem.exists("/a"), "value");

    const dir = await mkdtemp(join(tmpdir(), "oasis-kv-dev-"));
    try {
      await writeFile(join(dir, "secret"), "s3cr3t");
      const ro = await kv.directKvRoDevice.declare({ dir }, ctx)({});
      assert.equal(new TextDecoder().decode(await ro.get("secret")), "s3cr3t");
      const rw = await kv.directKvRwDevice.declare({ dir }, ctx)({});
      await rw.set("/b", "2");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const block = new Ramdisk({ sizeSectors: 4096 });
    const tar = await kv.tarKvRwDevice.declare(undefined, ctx)({ block });
    await tar.set("/x", "tar");
    assert.equal(await (await kv.tarKvRoDevice.declare(undefined, ctx)({ block })).exists("/x"), "value");

    const disk = new Ramdisk({ sizeSectors: 4096 });
    await kv.formatFat(disk);
    const fat = await kv.fatKvRwDevice.declare(undefined, ctx)({ block: disk });
    await fat.set("/y", "fat");
    assert.equal(await (await kv.fatKvRoDevice.declare(undefined, ctx)({ block: disk })).exists("/y"), "value");
    await assert.rejects(kv.fatKvRoDevice.declare(undefined, ctx)({ block: new Ramdisk({ sizeSectors: 64 }) }), /FAT file system t does not hold a FAT file system/);
  });

  it("the FAT device formats an empty disk only when --fat-format-if-empty is given", async () => {
    const ctx = { name: "fat", group: "" };
    resetArgsForTests();
    const plain = kv.fatKvRwDevice.declare(undefined, ctx);
    parseArgs([]);
    const disk = new Ramdisk({ sizeSectors: 4096 });
    await assert.rejects(plain({ block: disk }), /the disk is empty \(no boot sector\); run once with --fat-format-if-empty/);
    resetArgsForTests();
    const formatting = kv.fatKvRwDevice.declare(undefined, ctx);
    parseArgs(["--fat-format-if-empty"]);
    const store = await formatting({ block: disk });
    await store.set("/kept", "yes");
    // A disk that holds a file system is never formatted again.
    const again = await formatting({ block: disk });
    assert.equal(new TextDecoder().decode(await again.get("/kept")), "yes");
    const notFat = new Ramdisk({ sizeSectors: 64 });
    await notFat.write(0, new Uint8Array(512).fill(7));
    await assert.rejects(formatting({ block: notFat }), /does not hold a FAT file system/);
    resetArgsForTests();
  });
});
