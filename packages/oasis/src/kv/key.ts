// Keys shared by every store: "/a/b" and "a/b" name the same entry; "" and "/" name the root.
import { BlockError, KvError } from "../devices/errors.ts";

/** The segments of `key`, or KvError("invalid-key") saying which segment is wrong and why. */
export function parseKey(key: string): string[] {
  if (typeof key !== "string") throw new KvError("invalid-key", String(key), `invalid key ${String(key)}: keys are strings such as "/dir/name"`);
  const body = key.startsWith("/") ? key.slice(1) : key;
  if (body === "") return [];
  const segments = body.split("/");
  for (const s of segments) {
    let why: string | undefined;
    if (s === "") why = "it has an empty segment (a doubled or trailing '/')";
    else if (s === "." || s === "..") why = `it has a '${s}' segment (keys cannot refer to other entries relatively)`;
    else if (s.includes("\0")) why = "it contains a NUL character";
    if (why) throw new KvError("invalid-key", key, `invalid key ${JSON.stringify(key)}: ${why}; write keys as "/dir/name"`);
  }
  return segments;
}

/** The canonical form of a key: always starts with "/". */
export function keyOf(segments: readonly string[]): string {
  return "/" + segments.join("/");
}

export function normalizeKey(key: string): string {
  return keyOf(parseKey(key));
}

/** The child key `name` of the dictionary `parent` (both canonical). */
export function childKey(parent: string, name: string): string {
  return parent === "/" ? `/${name}` : `${parent}/${name}`;
}

/** True when `inner` is `outer` or lies below it (segment-wise). */
export function isPrefixOf(outer: readonly string[], inner: readonly string[]): boolean {
  if (outer.length > inner.length) return false;
  return outer.every((s, i) => inner[i] === s);
}

export function toBytes(value: Uint8Array | string): Uint8Array {
  return typeof value === "string" ? new TextEncoder().encode(value) : value;
}

export function checkOffset(key: string, name: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`${name} for ${key} must be a non-negative integer, got ${n}`);
}

export const errors = {
  notFound: (key: string) => new KvError("not-found", key, `${key} not found`),
  valueExpected: (key: string, what = "") => new KvError("value-expected", key, `${key} is a dictionary, not a value${what ? `: ${what}` : ""}`),
  dictionaryExpected: (key: string, what = "") => new KvError("dictionary-expected", key, `${key} is a value, not a dictionary${what ? `: ${what}` : ""}`),
  alreadyPresent: (key: string, what = "") => new KvError("already-present", key, `${key} already exists${what ? `: ${what}` : ""}`),
  sourcePrefix: (source: string, dest: string) =>
    new KvError("rename-source-prefix", source, `cannot rename ${source} to ${dest}: the destination lies inside the source`),
  readOnly: (key: string, store: string, what = "") => new KvError("read-only", key, `cannot modify ${key}: ${store} is read-only${what ? `; ${what}` : ""}`),
  noSpace: (key: string, store: string) => new KvError("no-space", key, `no space left on ${store} to write ${key}`),
};

/** A failure of the block device under a store, as the KvError("io") the store's callers expect. */
export function deviceFailure(e: unknown, key: string, store: string): unknown {
  if (!(e instanceof BlockError)) return e;
  return new KvError("io", key, `${store}: the device failed while working on ${key}: ${e.message}`, { cause: e });
}
