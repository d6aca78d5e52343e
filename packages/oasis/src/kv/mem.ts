// The in-memory store: full KvRw semantics, and the oracle the property tests compare others with.
import type { KvRw } from "../devices/kv.ts";
import { nowMs } from "oasis/ptime";
import { checkOffset, errors, isPrefixOf, keyOf, parseKey, toBytes } from "./key.ts";
import { newDict, TreeRo, type DictNode, type TreeNode, type ValueNode } from "./tree.ts";

export class MemKv extends TreeRo implements KvRw {
  constructor(name = "mem") {
    super(newDict(nowMs()), `in-memory store ${name}`);
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    this.placeValue(parseKey(key), valueNode(toBytes(value).slice(), nowMs()));
  }

  async setPartial(key: string, offset: number, data: Uint8Array | string): Promise<void> {
    const segments = parseKey(key);
    checkOffset(keyOf(segments), "offset", offset);
    this.checkValuePath(segments);
    const bytes = toBytes(data);
    const old = this.lookup(segments) as ValueNode | null;
    const oldBytes = old ? await this.readValue(old, 0, old.size) : new Uint8Array(0);
    const next = new Uint8Array(Math.max(oldBytes.length, offset + bytes.length));
    next.set(oldBytes);
    next.set(bytes, offset);
    this.placeValue(segments, valueNode(next, nowMs()));
  }

  async allocate(key: string, size: number, lastModified?: Date): Promise<void> {
    const segments = parseKey(key);
    const k = keyOf(segments);
    checkOffset(k, "size", size);
    if (segments.length === 0 || (await this.exists(k)) !== null) throw errors.alreadyPresent(k, "allocate only creates new values");
    this.placeValue(segments, valueNode(new Uint8Array(size), lastModified?.getTime() ?? nowMs()));
  }

  async remove(key: string): Promise<void> {
    const segments = parseKey(key);
    const now = nowMs();
    if (segments.length === 0) {
      this.root.children.clear();
      this.root.mtimeMs = now;
      return;
    }
    let parent: DictNode;
    try {
      const p = this.lookup(segments.slice(0, -1));
      if (!p || p.kind !== "dictionary") return;
      parent = p;
    } catch {
      return; // a value on the path: nothing to remove
    }
    if (parent.children.delete(segments[segments.length - 1]!)) this.parentFor(segments, now, true);
  }

  async rename(source: string, dest: string): Promise<void> {
    const src = parseKey(source);
    let dst = parseKey(dest);
    const node = this.lookup(src);
    if (!node) throw errors.notFound(keyOf(src));
    if (src.length === 0 || isPrefixOf(src, dst)) throw errors.sourcePrefix(keyOf(src), keyOf(dst));
    const destNode = this.lookup(dst);
    if (destNode?.kind === "dictionary") dst = [...dst, src[src.length - 1]!];
    if (isPrefixOf(src, dst)) return; // moving an entry into the dictionary that already holds it
    const target = this.lookup(dst);
    if (target?.kind === "dictionary") throw errors.alreadyPresent(keyOf(dst), `cannot rename ${keyOf(src)} over a dictionary; remove it first`);
    this.parentFor(dst, 0, false); // throws if a value sits on the destination's path
    const now = nowMs();
    const srcParent = this.lookup(src.slice(0, -1)) as DictNode;
    srcParent.children.delete(src[src.length - 1]!);
    this.parentFor(src, now, true);
    this.parentFor(dst, now, true)!.children.set(dst[dst.length - 1]!, node as TreeNode);
  }
}

function valueNode(data: Uint8Array, mtimeMs: number): ValueNode {
  return { kind: "value", data, size: data.length, mtimeMs };
}

export function memKv(name?: string): MemKv {
  return new MemKv(name);
}
