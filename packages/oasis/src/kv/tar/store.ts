// A tar archive on a Block as a store. Connecting scans the archive once and keeps an index;
// values are read from the device on demand. The read-write store only appends (like Mirage's
// tar_kv_rw): `set` adds an entry that shadows earlier ones; remove and rename are refused.
//
// Appending is ordered so that a write cut off at any point leaves every earlier entry readable:
// first the data with a fresh end-of-archive marker behind it, then any extra header records,
// and last the one header record that sits on the old end marker — until that lands, the
// archive still ends where it did.
import type { Block } from "../../devices/block.ts";
import type { KvRo, KvRw } from "../../devices/kv.ts";
import { KvError } from "../../devices/errors.ts";
import { Mutex } from "../lock.ts";
import { nowMs } from "oasis/ptime";
import { source } from "oasis/logs";
import { BlockBytes } from "../block-bytes.ts";
import { checkOffset, errors, keyOf, parseKey, toBytes, deviceFailure } from "../key.ts";
import { newDict, TreeRo, type DictNode, type ValueNode } from "../tree.ts";
import { emitHeader, emitPaxRecord, MAX_OCTAL_SIZE, paddedSize, parseHeader, parsePax, RECORD, splitUstarPath } from "./format.ts";

const log = source("kv.tar");

export type TarSkipReason = "bad-checksum" | "bad-number" | "bad-pax" | "truncated" | "unsafe-name" | "unsupported-type";

/** Why entries were skipped while reading the archive (a corrupt tail ends the archive). */
export type TarCounters = Record<TarSkipReason, number>;

/** Archive member names to key segments: "./a/b/" → ["a","b"]; null for names that could escape. */
function segmentsOfName(name: string): string[] | null {
  const parts = name.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.some((s) => s === ".." || s.includes("\0"))) return null;
  return parts;
}

export class TarKvRo extends TreeRo implements KvRo {
  readonly counters: TarCounters = { "bad-checksum": 0, "bad-number": 0, "bad-pax": 0, truncated: 0, "unsafe-name": 0, "unsupported-type": 0 };
  /** Byte offset of the end-of-archive marker: where the next entry goes. */
  protected end = 0;

  protected constructor(
    protected readonly dev: BlockBytes,
    what: string,
  ) {
    super(newDict(0), what);
  }

  static async open(block: Block, what = "tar archive"): Promise<TarKvRo> {
    const kv = new TarKvRo(await BlockBytes.open(block), what);
    await kv.scan();
    return kv;
  }

  protected override async readValue(node: ValueNode, offset: number, length: number): Promise<Uint8Array> {
    try {
      return (await this.dev.read(node.offset! + offset, length)).slice();
    } catch (e) {
      throw deviceFailure(e, node.key ?? "/", this.storeName);
    }
  }

  private skip(reason: TarSkipReason, at: number, detail: string): void {
    this.counters[reason]++;
    log.warn(`${this.storeName}: ${detail} (at byte ${at}: ${reason})`);
  }

  /** Records an entry; later entries shadow earlier ones, whatever their kind. */
  private place(segments: string[], node: ValueNode | DictNode): void {
    let dict = this.root;
    for (const s of segments.slice(0, -1)) {
      dict.mtimeMs = Math.max(dict.mtimeMs, node.mtimeMs);
      let next = dict.children.get(s);
      if (next?.kind !== "dictionary") dict.children.set(s, (next = newDict(node.mtimeMs)));
      dict = next;
    }
    dict.mtimeMs = Math.max(dict.mtimeMs, node.mtimeMs);
    const last = segments[segments.length - 1]!;
    const old = dict.children.get(last);
    if (node.kind === "dictionary" && old?.kind === "dictionary") old.mtimeMs = Math.max(old.mtimeMs, node.mtimeMs);
    else dict.children.set(last, node);
  }

  protected async scan(): Promise<void> {
    const size = this.dev.sizeBytes;
    let pos = 0;
    let pax: Map<string, string> | null = null;
    let longName: string | null = null;
    const byName = new Map<string, ValueNode>();
    for (;;) {
      if (pos + RECORD > size) break;
      const parsed = parseHeader(await this.dev.read(pos, RECORD));
      if (parsed.kind === "zero") break;
      if (parsed.kind === "invalid") {
        if (pos === 0) throw new KvError("io", "/", `${this.storeName} does not start with a tar header (${parsed.reason}); it is not a tar archive — create one with 'tar -cf', or use an all-zero device for an empty store`);
        this.skip(parsed.reason, pos, "corrupt header: the archive is read up to there, earlier entries stay readable");
        break;
      }
      const h = parsed.header;
      let entrySize = h.size;
      const paxSize = pax?.get("size");
      const metadata = h.type === "pax" || h.type === "pax-global" || h.type === "gnu-longname" || h.type === "gnu-longlink";
      if (!metadata && paxSize !== undefined && /^\d+$/.test(paxSize)) entrySize = Number(paxSize);
      const dataAt = pos + RECORD;
      const next = dataAt + paddedSize(entrySize);
      if (next > size) {
        this.skip("truncated", pos, `the entry ${h.path} runs past the end of the device`);
        break;
      }
      pos = next;
      if (h.type === "pax") {
        pax = parsePax(await this.dev.read(dataAt, entrySize));
        if (!pax) this.skip("bad-pax", dataAt - RECORD, "malformed pax extended header ignored");
        continue;
      }
      if (h.type === "gnu-longname") {
        const bytes = await this.dev.read(dataAt, entrySize);
        const nul = bytes.indexOf(0);
        longName = new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul));
        continue;
      }
      if (h.type === "pax-global" || h.type === "gnu-longlink") continue;
      const name = pax?.get("path") ?? longName ?? h.path;
      const paxMtime = pax?.get("mtime");
      const mtimeMs = paxMtime !== undefined && Number.isFinite(Number(paxMtime)) ? Math.round(Number(paxMtime) * 1000) : h.mtimeMs;
      pax = null;
      longName = null;
      const segments = segmentsOfName(name);
      if (segments === null) {
        this.skip("unsafe-name", dataAt - RECORD, `entry ${JSON.stringify(name)} has a '..' segment; skipped`);
        continue;
      }
      if (segments.length === 0) continue; // "./": the root itself
      const key = keyOf(segments);
      if (h.type === "file") {
        const node: ValueNode = { kind: "value", data: null, offset: dataAt, size: entrySize, mtimeMs, key };
        byName.set(key, node);
        this.place(segments, node);
      } else if (h.type === "directory") {
        this.place(segments, newDict(mtimeMs));
      } else if (h.type === "hardlink" && byName.has(keyOf(segmentsOfName(h.linkname) ?? []))) {
        const target = byName.get(keyOf(segmentsOfName(h.linkname)!))!;
        const node: ValueNode = { ...target, mtimeMs, key };
        byName.set(key, node);
        this.place(segments, node);
      } else {
        this.skip("unsupported-type", dataAt - RECORD, `entry ${key} of type '${h.typeflag}' (links and devices have no value) skipped`);
      }
    }
    this.end = pos;
  }
}

export class TarKvRw extends TarKvRo implements KvRw {
  private readonly lock = new Mutex();

  /** Appends run one at a time (each moves the end of the archive); device failures become KvError("io"). */
  private locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      try {
        return await task();
      } catch (e) {
        throw deviceFailure(e, key, this.storeName);
      }
    });
  }

  static override async open(block: Block, what = "tar archive"): Promise<TarKvRw> {
    const dev = await BlockBytes.open(block);
    if (!dev.readWrite) throw new KvError("read-only", "/", `${what}: the block device is read-only; use tarKvRo or open the disk read-write`);
    const kv = new TarKvRw(dev, what);
    await kv.scan();
    return kv;
  }

  /** Bytes that can still be appended (value data, before headers and the end marker). */
  free(): number {
    return Math.max(0, this.dev.sizeBytes - this.end - 2 * RECORD - RECORD - 2 * RECORD);
  }

  /** Appends an entry of `size` bytes whose data `fill` writes at the byte offset it is given. */
  private async append(segments: string[], size: number, fill: (dataAt: number) => Promise<void>, mtimeMs: number): Promise<void> {
    const key = keyOf(segments);
    this.checkValuePath(segments);
    const path = segments.join("/");
    const mtimeS = Math.floor(mtimeMs / 1000);
    const split = splitUstarPath(path);
    const headers: Uint8Array[] = [];
    if (!split || size > MAX_OCTAL_SIZE) {
      const records = [emitPaxRecord("path", path)];
      if (size > MAX_OCTAL_SIZE) records.push(emitPaxRecord("size", String(size)));
      const body = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
      let at = 0;
      for (const r of records) body.set(r, (at += r.length) - r.length);
      const paxName = `PaxHeaders/${segments[segments.length - 1]!}`.slice(0, 99).replace(/[^\x20-\x7e]/g, "_");
      headers.push(emitHeader({ name: paxName, size: body.length, mtimeS, typeflag: "x" }));
      const padded = new Uint8Array(paddedSize(body.length));
      padded.set(body);
      headers.push(padded);
    }
    const fallbackName = split ?? { name: segments[segments.length - 1]!.replace(/[^\x20-\x7e]/g, "_").slice(0, 100), prefix: "" };
    headers.push(emitHeader({ name: fallbackName.name, prefix: fallbackName.prefix, size: size, mtimeS, typeflag: "0" }));
    const headerBytes = headers.reduce((n, h) => n + h.length, 0);
    const dataAt = this.end + headerBytes;
    const newEnd = dataAt + paddedSize(size);
    if (newEnd + 2 * RECORD > this.dev.sizeBytes) throw errors.noSpace(key, this.storeName);

    await fill(dataAt);
    await this.zero(dataAt + size, newEnd + 2 * RECORD); // padding, then the new end marker
    await this.dev.flush();
    const all = new Uint8Array(headerBytes);
    let at = 0;
    for (const h of headers) all.set(h, (at += h.length) - h.length);
    if (headerBytes > RECORD) await this.dev.write(this.end + RECORD, all.subarray(RECORD));
    await this.dev.write(this.end, all.subarray(0, RECORD));
    await this.dev.flush();

    this.end = newEnd;
    this.placeValue(segments, { kind: "value", data: null, offset: dataAt, size: size, mtimeMs: mtimeS * 1000, key });
  }

  /** Writes zeros over [from, to) of the device, a megabyte at a time. */
  private async zero(from: number, to: number): Promise<void> {
    const chunk = new Uint8Array(Math.min(to - from, 1024 * 1024));
    for (let at = from; at < to; at += chunk.length) await this.dev.write(at, chunk.subarray(0, Math.min(chunk.length, to - at)));
  }

  set(key: string, value: Uint8Array | string): Promise<void> {
    const bytes = toBytes(value);
    return this.locked(key, () => this.append(parseKey(key), bytes.length, (at) => this.dev.write(at, bytes), nowMs()));
  }

  setPartial(key: string, offset: number, data: Uint8Array | string): Promise<void> {
    return this.locked(key, () => this.patch(key, offset, data));
  }

  private async patch(key: string, offset: number, data: Uint8Array | string): Promise<void> {
    const segments = parseKey(key);
    checkOffset(keyOf(segments), "offset", offset);
    this.checkValuePath(segments);
    const bytes = toBytes(data);
    const old = this.lookup(segments) as ValueNode | null;
    if (old && offset + bytes.length <= old.size) {
      // Inside the stored value: overwrite in place, the archive's structure is unchanged.
      await this.dev.write(old.offset! + offset, bytes);
      await this.dev.flush();
      old.digest = undefined;
      return;
    }
    // Past the end: a new entry with the old bytes, a zero gap and the new bytes shadows the old one.
    const oldSize = old?.size ?? 0;
    await this.append(segments, Math.max(oldSize, offset + bytes.length), async (at) => {
      const step = 1024 * 1024;
      for (let i = 0; i < oldSize; i += step) await this.dev.write(at + i, await this.readValue(old!, i, Math.min(step, oldSize - i)));
      if (offset > oldSize) await this.zero(at + oldSize, at + offset);
      await this.dev.write(at + offset, bytes);
    }, nowMs());
  }

  allocate(key: string, size: number, lastModified?: Date): Promise<void> {
    return this.locked(key, async () => {
      const segments = parseKey(key);
      const k = keyOf(segments);
      checkOffset(k, "size", size);
      if (segments.length === 0 || (await this.exists(k)) !== null) throw errors.alreadyPresent(k, "allocate only creates new values");
      await this.append(segments, size, (at) => this.zero(at, at + size), lastModified?.getTime() ?? nowMs());
    });
  }

  async remove(key: string): Promise<void> {
    throw errors.readOnly(keyOf(parseKey(key)), this.storeName, "a tar store only appends: remove is not supported (rewrite the archive instead)");
  }

  async rename(source: string, dest: string): Promise<void> {
    parseKey(dest);
    throw errors.readOnly(keyOf(parseKey(source)), this.storeName, "a tar store only appends: rename is not supported (set the new key instead)");
  }
}

export function tarKvRo(block: Block): Promise<TarKvRo> {
  return TarKvRo.open(block);
}

export function tarKv(block: Block): Promise<TarKvRw> {
  return TarKvRw.open(block);
}
