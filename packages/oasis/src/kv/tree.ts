// An in-memory tree of dictionaries and values: the model behind the mem store and the crunch
// store. Read operations live here; mem adds the writes.
import type { EntryKind, KvRo } from "../devices/kv.ts";
import { childKey, checkOffset, errors, keyOf, parseKey } from "./key.ts";
import { dictionaryDigest, valueDigest } from "./digest.ts";

export interface DictNode {
  kind: "dictionary";
  children: Map<string, TreeNode>;
  mtimeMs: number;
}

export interface ValueNode {
  kind: "value";
  /** Materialised bytes, or null until `load` runs (crunch decodes lazily, once). */
  data: Uint8Array | null;
  load?: () => Uint8Array;
  /** For stores whose bytes live elsewhere (tar): where the value starts on the device, and its key for errors. */
  offset?: number;
  key?: string;
  size: number;
  mtimeMs: number;
  digest?: Uint8Array;
}

export type TreeNode = DictNode | ValueNode;

export function newDict(mtimeMs: number): DictNode {
  return { kind: "dictionary", children: new Map(), mtimeMs };
}

export function bytesOf(node: ValueNode): Uint8Array {
  if (node.data === null) {
    node.data = node.load!();
    node.load = undefined;
  }
  return node.data;
}

export class TreeRo implements KvRo {
  /** Reads `length` bytes from `offset` of a value (both already clipped to its size). */
  protected async readValue(node: ValueNode, offset: number, length: number): Promise<Uint8Array> {
    return bytesOf(node).slice(offset, offset + length);
  }

  constructor(
    protected readonly root: DictNode,
    protected readonly storeName: string,
  ) {}

  /** The node at `segments`, or null; KvError("dictionary-expected") when a value sits on the path. */
  protected lookup(segments: readonly string[]): TreeNode | null {
    let node: TreeNode = this.root;
    for (let i = 0; i < segments.length; i++) {
      if (node.kind !== "dictionary") throw errors.dictionaryExpected(keyOf(segments.slice(0, i)), `cannot look up ${keyOf(segments)}`);
      const next: TreeNode | undefined = node.children.get(segments[i]!);
      if (!next) return null;
      node = next;
    }
    return node;
  }

  protected find(key: string): { node: TreeNode; key: string } {
    const segments = parseKey(key);
    const k = keyOf(segments);
    const node = this.lookup(segments);
    if (!node) throw errors.notFound(k);
    return { node, key: k };
  }

  protected findValue(key: string): ValueNode {
    const { node, key: k } = this.find(key);
    if (node.kind !== "value") throw errors.valueExpected(k);
    return node;
  }

  /** The dictionary that will hold `segments`' last segment, creating missing ones; ancestors get `mtimeMs`. */
  protected parentFor(segments: readonly string[], mtimeMs: number, create: boolean): DictNode | null {
    let dict = this.root;
    const path: DictNode[] = [dict];
    for (let i = 0; i < segments.length - 1; i++) {
      const next = dict.children.get(segments[i]!);
      if (next === undefined) {
        if (!create) return null;
        const made = newDict(mtimeMs);
        dict.children.set(segments[i]!, made);
        dict = made;
      } else if (next.kind === "value") {
        throw errors.dictionaryExpected(keyOf(segments.slice(0, i + 1)), `cannot store ${keyOf(segments)} below it`);
      } else dict = next;
      path.push(dict);
    }
    if (create) for (const d of path) d.mtimeMs = mtimeMs;
    return dict;
  }

  /** Checks, without changing anything, that `segments` can hold a value. */
  protected checkValuePath(segments: readonly string[]): void {
    if (segments.length === 0) throw errors.valueExpected("/", "the root is always a dictionary");
    this.parentFor(segments, 0, false);
    const node = this.lookup(segments);
    if (node?.kind === "dictionary") throw errors.valueExpected(keyOf(segments), "remove it before storing a value there");
  }

  protected placeValue(segments: readonly string[], node: ValueNode): void {
    this.checkValuePath(segments);
    const parent = this.parentFor(segments, node.mtimeMs, true)!;
    parent.children.set(segments[segments.length - 1]!, node);
  }

  async exists(key: string): Promise<EntryKind | null> {
    const segments = parseKey(key);
    try {
      return this.lookup(segments)?.kind ?? null;
    } catch {
      return null; // a value on the path: nothing can exist below it
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const node = this.findValue(key);
    return this.readValue(node, 0, node.size);
  }

  async getPartial(key: string, offset: number, length: number): Promise<Uint8Array> {
    checkOffset(key, "offset", offset);
    checkOffset(key, "length", length);
    const node = this.findValue(key);
    const start = Math.min(offset, node.size);
    return this.readValue(node, start, Math.min(node.size, offset + length) - start);
  }

  async list(key: string): Promise<Array<[string, EntryKind]>> {
    const { node, key: k } = this.find(key);
    if (node.kind !== "dictionary") throw errors.dictionaryExpected(k, "only dictionaries can be listed");
    return [...node.children.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, n]) => [childKey(k, name), n.kind]);
  }

  async lastModified(key: string): Promise<Date> {
    return new Date(this.find(key).node.mtimeMs);
  }

  async digest(key: string): Promise<Uint8Array> {
    return this.digestNode(this.find(key).node);
  }

  private async digestNode(node: TreeNode): Promise<Uint8Array> {
    if (node.kind === "value") return (node.digest ??= valueDigest(await this.readValue(node, 0, node.size)));
    const names = [...node.children.keys()].sort();
    const children = [];
    for (const name of names) {
      const child = node.children.get(name)!;
      children.push({ name, kind: child.kind, digest: await this.digestNode(child) });
    }
    return dictionaryDigest(children);
  }

  async size(key: string): Promise<number> {
    return this.findValue(key).size;
  }

  async disconnect(): Promise<void> {}
}

