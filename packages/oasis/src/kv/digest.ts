// One digest definition for every store, so the same contents give the same digest whether they
// live in memory, in a tar archive or on FAT: SHA-256 of a value's bytes; for a dictionary,
// SHA-256 over its children in key order (kind, name, child digest).
import type { EntryKind } from "../devices/kv.ts";
import { KvError } from "../devices/errors.ts";
import { Sha256, sha256 } from "./sha256.ts";

export function valueDigest(bytes: Uint8Array): Uint8Array {
  return sha256(bytes);
}

const encoder = new TextEncoder();

export function dictionaryDigest(children: ReadonlyArray<{ name: string; kind: EntryKind; digest: Uint8Array }>): Uint8Array {
  const h = new Sha256();
  for (const c of children) {
    h.update(Uint8Array.of(c.kind === "value" ? 1 : 2));
    h.update(encoder.encode(c.name));
    h.update(Uint8Array.of(0));
    h.update(c.digest);
  }
  return h.digest();
}

interface Listable {
  list(key: string): Promise<Array<[string, EntryKind]>>;
  /** For values: SHA-256 of the bytes (each store may compute or cache it its own way). */
  digest(key: string): Promise<Uint8Array>;
}

/** Deeper than this, a "dictionary" is a loop in a damaged file system, not a real tree. */
export const MAX_DEPTH = 256;

/** The digest of the dictionary at `key`, computed through the store's own list and get. */
export async function digestDictionaryOf(store: Listable, key: string, depth = 0): Promise<Uint8Array> {
  if (depth > MAX_DEPTH) throw new KvError("io", key, `${key} is nested more than ${MAX_DEPTH} dictionaries deep: the store's directory structure loops; check the file system`);
  const children = [];
  for (const [child, kind] of await store.list(key)) {
    const name = child.slice(child.lastIndexOf("/") + 1);
    const digest = kind === "value" ? await store.digest(child) : await digestDictionaryOf(store, child, depth + 1);
    children.push({ name, kind, digest });
  }
  return dictionaryDigest(children);
}
