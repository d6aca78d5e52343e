// A read-only store over a directory embedded at build time (CrunchData). Values stay base64 in
// the bundle until first read, then are decoded once.
import type { CrunchData } from "./crunch-data.ts";
import { keyOf, parseKey } from "./key.ts";
import { newDict, TreeRo, type DictNode, type ValueNode } from "./tree.ts";

export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

export class CrunchKv extends TreeRo {
  constructor(data: CrunchData) {
    const root = newDict(0);
    super(root, `crunched directory ${data.dir}`);
    for (const entry of data.entries) {
      const segments = parseKey(entry.key);
      if (segments.length === 0) throw new Error(`crunched data for ${data.dir} has an entry for the root; rebuild with 'oasis build'`);
      let dict: DictNode = root;
      for (const s of segments.slice(0, -1)) {
        const next = dict.children.get(s);
        if (next?.kind === "value") throw new Error(`crunched data for ${data.dir}: ${entry.key} lies below the value ${keyOf(segments.slice(0, segments.indexOf(s) + 1))}; rebuild with 'oasis build'`);
        dict = next ?? dict.children.set(s, newDict(0)).get(s)! as DictNode;
      }
      const node: ValueNode = {
        kind: "value",
        data: null,
        load: () => {
          const bytes = decodeBase64(entry.base64);
          if (bytes.length !== entry.size) throw new Error(`crunched data for ${entry.key} in ${data.dir} is corrupt: ${bytes.length} bytes instead of ${entry.size}; rebuild with 'oasis build'`);
          return bytes;
        },
        size: entry.size,
        mtimeMs: entry.mtimeMs,
      };
      dict.children.set(segments[segments.length - 1]!, node);
    }
    // A dictionary was last modified when its newest entry was.
    const stamp = (d: DictNode): number => {
      for (const c of d.children.values()) d.mtimeMs = Math.max(d.mtimeMs, c.kind === "value" ? c.mtimeMs : stamp(c));
      return d.mtimeMs;
    };
    stamp(root);
  }
}

export function crunchKv(data: CrunchData): CrunchKv {
  return new CrunchKv(data);
}
