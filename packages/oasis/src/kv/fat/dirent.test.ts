import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeTime, encodeTime, lfnChecksum, longNameSlots, parseDirectory, shortNameFor, shortNameText, writeShort, ENTRY } from "./dirent.ts";

const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };

describe("FAT directory entries", () => {
  it("generates the same 8.3 names as mtools for ASCII long names", () => {
    const names = ["A rather long file name with spaces.markdown", "lower.txt", "MixedCase.Ext", ".hidden", "a.b.c", "x+y=z.tar.gz", "abcdefgh.txtx", "abcdefgh.txty", "README", "long name 1.text", "long name 2.text"];
    const dir = mkdtempSync(join(tmpdir(), "oasis-kv-83-"));
    try {
      const img = join(dir, "d.img");
      writeFileSync(img, "");
      truncateSync(img, 1024 * 1024);
      execFileSync("mkfs.fat", ["-F", "12", img], { stdio: "ignore" });
      const src = join(dir, "f");
      writeFileSync(src, "x");
      for (const n of names) execFileSync("mcopy", ["-i", img, src, `::/${n}`], { env });
      const listing = execFileSync("mdir", ["-i", img, "::/"], { env, encoding: "utf8" });
      const taken = new Set<string>();
      for (const n of names) {
        const ours = shortNameFor(n, taken);
        const text = shortNameText(ours.shortName, ours.ntCase);
        taken.add(shortNameText(ours.shortName));
        const line = listing.split("\n").find((l) => (ours.needsLfn ? l.endsWith(` ${n}`) : l.startsWith(text.split(".")[0]!.padEnd(8))));
        assert.ok(line, `mdir lists ${n}:\n${listing}`);
        const [base, ext] = [line.slice(0, 8).trim(), line.slice(9, 12).trim()];
        assert.equal(shortNameText(ours.shortName).toUpperCase(), (ext ? `${base}.${ext}` : base).toUpperCase(), n);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("computes the VFAT checksum and splits long names into 13-unit slots", () => {
    const short = new TextEncoder().encode("ARATHE~1MAR");
    assert.equal(lfnChecksum(short), lfnChecksum(short.slice()));
    const slots = longNameSlots("A rather long file name with spaces.markdown", lfnChecksum(short));
    assert.equal(slots.length, 4);
    assert.equal(slots[0]![0], 0x44); // last slot first, with the 0x40 flag
    assert.equal(slots[3]![0], 0x01);
  });

  it("parses what it writes, and falls back to the 8.3 name when the checksum is wrong", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9 _.()-]{1,60}$/).filter((s) => !/[. ]$/.test(s) && !/^[. ]+$/.test(s)), (name) => {
        const { shortName, ntCase, needsLfn } = shortNameFor(name, new Set());
        const slots = needsLfn ? longNameSlots(name, lfnChecksum(shortName)) : [];
        const b = new Uint8Array((slots.length + 2) * ENTRY);
        slots.forEach((s, i) => b.set(s, i * ENTRY));
        writeShort(b, slots.length * ENTRY, { shortName, ntCase, attr: 0x20, firstCluster: 5, size: 7, mtimeMs: Date.UTC(2020, 1, 2, 3, 4, 6) });
        const [e] = parseDirectory(b).entries;
        assert.equal(e!.name, name);
        if (needsLfn) {
          b[13] ^= 0xff; // the checksum of the first long-name slot
          assert.equal(parseDirectory(b).entries[0]!.name, shortNameText(shortName, ntCase));
        }
      }),
    );
  });

  it("keeps timestamps to FAT's 2-second resolution between 1980 and 2107", () => {
    const t = Date.UTC(2024, 5, 30, 23, 59, 58);
    const { date, time } = encodeTime(t);
    assert.equal(decodeTime(date, time), t);
    const early = encodeTime(Date.UTC(1970, 0, 1));
    assert.equal(decodeTime(early.date, early.time), Date.UTC(1980, 0, 1));
  });
});
