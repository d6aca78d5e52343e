import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { bodyFraming, DEFAULT_HEAD_LIMITS, findHeadEnd, parseRequestHead } from "./parse.ts";
import { HttpError } from "./errors.ts";
import { HttpHeaders } from "./headers.ts";
import { HttpRequest } from "./message.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const tokenChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~");
const token = fc.string({ unit: tokenChar, minLength: 1, maxLength: 20 });
const fieldValue = fc.string({ unit: fc.constantFrom(..."abc XYZ019/;=,.\t-_:\"'()"), maxLength: 40 }).map((v) => v.trim());
const pathChar = fc.constantFrom(..."abcxyz0189/-._~%?=&");

test("a generated request head parses back to its method, target and fields (property)", () => {
  fc.assert(
    fc.property(token, fc.string({ unit: pathChar, maxLength: 60 }), fc.array(fc.tuple(token, fieldValue), { maxLength: 20 }), (method, path, fields) => {
      const target = `/${path}`;
      const text = `${method} ${target} HTTP/1.1\r\n${fields.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`;
      const bytes = enc(text);
      const end = findHeadEnd(bytes, 0, DEFAULT_HEAD_LIMITS);
      assert.equal(end, bytes.length);
      const head = parseRequestHead(bytes, 0, end, DEFAULT_HEAD_LIMITS);
      assert.equal(head.method, method);
      assert.equal(head.target, target);
      assert.equal(head.minor, 1);
      assert.deepEqual([...head.headers], fields.map(([n, v]) => [n.toLowerCase(), v]));
    }),
  );
});

test("random bytes only ever produce HttpError from the head parser (property)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom("", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: x\r\n"), (noise, prefix) => {
      const bytes = new Uint8Array([...enc(prefix), ...noise, ...enc("\r\n\r\n")]);
      try {
        const end = findHeadEnd(bytes, 0, DEFAULT_HEAD_LIMITS);
        if (end < 0) return;
        const head = parseRequestHead(bytes, 0, end, DEFAULT_HEAD_LIMITS);
        bodyFraming(head.headers, head.minor, 1024, true);
      } catch (e) {
        assert.ok(e instanceof HttpError, `unexpected ${String(e)}`);
        assert.ok(e.status >= 400 && e.status < 600);
      }
    }),
    { numRuns: 2000 },
  );
});

test("requests split their target into path and query, for origin- and absolute-form", () => {
  const make = (target: string, host?: string) =>
    new HttpRequest({ method: "GET", target, version: "1.1", headers: new HttpHeaders(host ? { host } : {}), remote: null, body: null as never });
  const r = make("/a/b%20c?x=1&y=2", "example.test:8080");
  assert.equal(r.path, "/a/b%20c");
  assert.equal(r.query, "x=1&y=2");
  assert.equal(r.url.href, "http://example.test:8080/a/b%20c?x=1&y=2");
  const abs = make("http://proxy.test/p?q");
  assert.equal(abs.path, "/p");
  assert.equal(abs.query, "q");
  assert.equal(make("*").path, "");
  assert.equal(make("/", "bad host").url.href, "http://localhost/");
});

test("header values with CR or LF are refused when building responses (no response splitting)", () => {
  assert.throws(() => new HttpHeaders({ location: "/x\r\nSet-Cookie: a=b" }), TypeError);
  assert.throws(() => new HttpHeaders({ "bad name": "v" }), TypeError);
  const h = new HttpHeaders([["Connection", "keep-alive, Upgrade"]]);
  assert.ok(h.hasToken("connection", "upgrade"));
  assert.equal(h.get("CONNECTION"), "keep-alive, Upgrade");
});

test("a head ending in a bare LF is refused with 400, never an exception of another kind", () => {
  for (const text of ["\n\r\n\r\n", "GET / HTTP/1.1\n\r\n", "GET / HTTP/1.1\r\nHost: x\n\r\n"]) {
    const bytes = enc(text);
    assert.throws(
      () => {
        const end = findHeadEnd(bytes, 0, DEFAULT_HEAD_LIMITS);
        if (end >= 0) parseRequestHead(bytes, 0, end, DEFAULT_HEAD_LIMITS);
      },
      (e: unknown) => e instanceof HttpError && e.status === 400,
      JSON.stringify(text),
    );
  }
});
