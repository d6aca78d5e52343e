import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { encodeLine, encodeLines, formatFieldValue, packLines } from "./influx.ts";
import { parseLine, parseLines } from "./line-protocol.fixture.ts";
import type { DataPoint } from "./registry.ts";

function point(p: Partial<DataPoint> & { fields: Record<string, number> }): DataPoint {
  return { name: "m", tags: {}, timestampMs: 1_700_000_000_123, floatFields: new Set(), ...p };
}

test("integers carry the i suffix, other numbers are floats, float fields stay floats", () => {
  assert.equal(formatFieldValue(42), "42i");
  assert.equal(formatFieldValue(-7), "-7i");
  assert.equal(formatFieldValue(0.5), "0.5");
  assert.equal(formatFieldValue(3, true), "3");
  assert.equal(formatFieldValue(2 ** 60), String(2 ** 60)); // beyond 2^53: not an exact integer any more
  assert.equal(formatFieldValue(1e300), "1e+300");
  assert.equal(formatFieldValue(-0), "0i");
  const line = encodeLine(point({ fields: { a: 1, b: 1.5, c: 2 }, floatFields: new Set(["c"]) }))!;
  assert.equal(line, "m a=1i,b=1.5,c=2 1700000000123000000");
  const parsed = parseLine(line);
  assert.deepEqual(parsed.fields, { a: { kind: "int", value: 1n }, b: { kind: "float", value: 1.5 }, c: { kind: "float", value: 2 } });
});

test("escapes spaces and commas in measurements; commas, equals and spaces in tags and field keys", () => {
  const line = encodeLine(
    point({ name: "cpu load,avg=1", tags: { "host name": "a=b,c d", "z": "back\\slash" }, fields: { "x y=z,w": 1 } }),
    { vm: "my vm" },
  )!;
  assert.equal(line, "cpu\\ load\\,avg=1,host\\ name=a\\=b\\,c\\ d,vm=my\\ vm,z=back\\\\slash x\\ y\\=z\\,w=1i 1700000000123000000");
  const p = parseLine(line);
  assert.equal(p.measurement, "cpu load,avg=1");
  assert.deepEqual(p.tags, { "host name": "a=b,c d", vm: "my vm", z: "back\\slash" });
  assert.deepEqual(Object.keys(p.fields), ["x y=z,w"]);
  assert.equal(p.timestamp, 1_700_000_000_123_000_000n);
});

test("tags are sorted, the point's own tag wins over an extra one, empty ones are left out", () => {
  const line = encodeLine(point({ tags: { vm: "mine", b: "2", a: "1", e: "" }, fields: { x: 1 } }), { vm: "default" })!;
  assert.equal(line.split(" ")[0], "m,a=1,b=2,vm=mine");
});

test("a point with no usable field has no line (the protocol has none without fields)", () => {
  assert.equal(encodeLine(point({ fields: {} })), null);
  assert.equal(encodeLine(point({ fields: { a: NaN, "": 1 } })), null);
  assert.deepEqual(encodeLines([point({ fields: {} }), point({ fields: { a: 1 } })]), ["m a=1i 1700000000123000000\n"]);
});

test("newlines in names cannot be escaped and become spaces", () => {
  const line = encodeLine(point({ name: "a\nb", tags: { t: "x\r\ny" }, fields: { f: 1 } }))!;
  assert.ok(!/[\r\n]/.test(line));
  assert.deepEqual(parseLine(line).tags, { t: "x  y" });
});

test("property: any point encodes to a line the strict parser reads back exactly", () => {
  const text = fc.string({ minLength: 1, maxLength: 12, unit: fc.constantFrom("a", "Z", "0", " ", ",", "=", "\\", "é", "-", "_", ".", '"'.replace('"', "q")) });
  fc.assert(
    fc.property(
      text,
      fc.dictionary(text, text, { maxKeys: 4 }),
      fc.dictionary(text, fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.maxSafeInteger()), { minKeys: 1, maxKeys: 4 }),
      (name, tags, fields) => {
        const line = encodeLine(point({ name, tags, fields }))!;
        const p = parseLine(line);
        assert.equal(p.measurement, name);
        assert.deepEqual(p.tags, { ...tags });
        for (const [k, v] of Object.entries(fields)) {
          const f = p.fields[k]!;
          if (Number.isSafeInteger(v)) assert.deepEqual(f, { kind: "int", value: BigInt(v) });
          else assert.deepEqual(f, { kind: "float", value: Object.is(v, -0) ? 0 : v });
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("packLines keeps whole lines in payloads under the budget; a long line travels alone", () => {
  const lines = Array.from({ length: 50 }, (_, i) => `m,i=${i} v=${"1".repeat(18)}i 1\n`);
  const long = `big v=${"2".repeat(3000)}.5 1\n`;
  const payloads = packLines([...lines.slice(0, 25), long, ...lines.slice(25)], 200);
  const decoded = payloads.map((p) => new TextDecoder().decode(p));
  for (const d of decoded) {
    assert.ok(d.length <= 200 || d === long, `payload of ${d.length} bytes`);
    parseLines(d);
  }
  assert.equal(decoded.join(""), [...lines.slice(0, 25), long, ...lines.slice(25)].join(""));
});
