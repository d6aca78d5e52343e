import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { emitHeader, emitPaxRecord, parseHeader, parsePax, splitUstarPath } from "./format.ts";

describe("tar format", () => {
  it("pax records carry their own length, across digit-count boundaries", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z.]{1,12}$/), fc.string({ unit: "binary", maxLength: 300 }), (key, value) => {
        const record = emitPaxRecord(key, value.replace(/\n/g, " "));
        const len = Number(new TextDecoder().decode(record).split(" ")[0]);
        assert.equal(len, record.length);
        assert.equal(parsePax(record)?.get(key), value.replace(/\n/g, " "));
      }),
    );
    for (const n of [1, 2, 3, 4, 5, 93, 94, 95, 96, 994, 995, 996]) assert.equal(emitPaxRecord("k", "v".repeat(n)).length, Number(new TextDecoder().decode(emitPaxRecord("k", "v".repeat(n))).split(" ")[0]));
  });

  it("rejects malformed pax data instead of guessing", () => {
    assert.equal(parsePax(new TextEncoder().encode("99 path=x\n")), null);
    assert.equal(parsePax(new TextEncoder().encode("11 pathx\n")), null);
  });

  it("headers round-trip and any corrupted byte fails the checksum", () => {
    const h = emitHeader({ name: "a/b.txt", size: 12345, mtimeS: 1_700_000_000, typeflag: "0" });
    const parsed = parseHeader(h);
    assert.equal(parsed.kind, "header");
    if (parsed.kind === "header") assert.deepEqual([parsed.header.path, parsed.header.size, parsed.header.mtimeMs, parsed.header.type], ["a/b.txt", 12345, 1_700_000_000_000, "file"]);
    fc.assert(
      fc.property(fc.nat(511), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const b = h.slice();
        b[at] = (b[at]! + delta) & 0xff;
        if (at >= 148 && at < 156) return; // damage to the checksum field itself may parse as another number
        assert.equal(parseHeader(b).kind, "invalid");
      }),
    );
  });

  it("splits long paths into ustar prefix and name, or asks for pax", () => {
    assert.deepEqual(splitUstarPath("short"), { name: "short", prefix: "" });
    const long = "p".repeat(120) + "/" + "n".repeat(90);
    assert.deepEqual(splitUstarPath(long), { prefix: "p".repeat(120), name: "n".repeat(90) });
    assert.equal(splitUstarPath("x".repeat(101)), null);
    assert.equal(splitUstarPath("ünï"), null);
  });
});
