// A FAT12/16/32 file system on a Block as a store: directories are dictionaries, files are values.
// Names are matched case-insensitively and stored case-preserving with VFAT long names, as
// Windows, Linux and mtools do, so "/Readme" and "/README" are the same entry.
//
// Writes put data before metadata: data clusters first, then the FAT copies that link them,
// then the directory entry that makes them reachable. A write cut off midway leaves at worst
// clusters that no entry references (fsck.fat reclaims them), never an entry pointing at
// clusters that do not hold its data.
import type { Block } from "../../devices/block.ts";
import type { EntryKind, KvRo, KvRw } from "../../devices/kv.ts";
import { KvError } from "../../devices/errors.ts";
import { nowMs } from "oasis/ptime";
import { BlockBytes } from "../block-bytes.ts";
import { childKey, checkOffset, errors, isPrefixOf, keyOf, parseKey, toBytes, deviceFailure } from "../key.ts";
import { digestDictionaryOf, MAX_DEPTH, valueDigest } from "../digest.ts";
import { Mutex } from "../lock.ts";
import {
  ATTR_ARCHIVE, ATTR_DIRECTORY, DELETED, ENTRY, dotEntries, put16, roundTime, invalidLongName, lfnChecksum, longNameSlots, parseDirectory, shortNameFor,
  shortNameText, writeShort, type DirEntry, type ParsedDir, type ShortEntry,
} from "./dirent.ts";
import { FatFormatError, parseBootSector, type FatLayout } from "./layout.ts";
import { FatTable } from "./table.ts";

/** A loaded directory: its bytes, where they live, and its parsed entries. */
interface Dir {
  /** 0 for the root (also on FAT32, as ".." entries record it). */
  cluster: number;
  /** Clusters holding the directory; empty for the fixed FAT12/16 root. */
  clusters: number[];
  bytes: Uint8Array;
  parsed: ParsedDir;
  /** Entries by upper-cased name, built on first lookup. */
  byName?: Map<string, DirEntry>;
  /** The 8.3 names in use (upper case), built when an entry is added. */
  shortNames?: Set<string>;
}

/** Directories kept in memory; the store is the device's only user, so they stay exact. */
const MAX_CACHED_DIRS = 4096;

type Found = { root: true; dir: Dir } | { root: false; parent: Dir; entry: DirEntry };

const fold = (s: string) => s.toUpperCase();

export class FatKvRo implements KvRo {
  protected readonly lock = new Mutex();
  /** Value digests, valid while `generation` (bumped by every write) is unchanged. */
  protected readonly digests = new Map<string, { generation: number; digest: Uint8Array }>();
  protected generation = 0;
  /** Loaded directories by first cluster (0: the root). Writes update them in place. */
  protected readonly dirs = new Map<number, Dir>();

  protected constructor(
    protected readonly dev: BlockBytes,
    protected readonly fat: FatTable,
    readonly layout: FatLayout,
    protected readonly what: string,
  ) {}

  protected static async load(block: Block, what: string): Promise<{ dev: BlockBytes; fat: FatTable; layout: FatLayout }> {
    const dev = await BlockBytes.open(block);
    const boot = await dev.read(0, Math.max(512, dev.sectorSize));
    let layout: FatLayout;
    try {
      layout = parseBootSector(boot, dev.sizeBytes, what);
    } catch (e) {
      if (e instanceof FatFormatError) throw new KvError("io", "/", e.message, { cause: e });
      throw e;
    }
    return { dev, fat: await FatTable.load(dev, layout), layout };
  }

  static async open(block: Block, what = "FAT file system"): Promise<FatKvRo> {
    const { dev, fat, layout } = await FatKvRo.load(block, what);
    return new FatKvRo(dev, fat, layout, what);
  }

  /** FAT type, cluster size and free space, for tools and tests. */
  stats(): { type: 12 | 16 | 32; clusterBytes: number; freeBytes: number } {
    return { type: this.layout.type, clusterBytes: this.layout.clusterBytes, freeBytes: this.fat.free * this.layout.clusterBytes };
  }

  /** Runs one operation alone; a failure of the device underneath becomes KvError("io") naming the key. */
  protected locked<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      try {
        return await task();
      } catch (e) {
        throw deviceFailure(e, key, this.what);
      }
    });
  }

  protected corrupt(key: string, why: string): KvError {
    return new KvError("io", key, `${this.what} is damaged at ${key}: ${why}; check it with 'fsck.fat'`);
  }

  protected segmentsOf(key: string): string[] {
    const segments = parseKey(key);
    for (const s of segments) {
      const why = invalidLongName(s);
      if (why) throw new KvError("invalid-key", key, `invalid key ${JSON.stringify(key)} for ${this.what}: segment ${JSON.stringify(s)} — ${why}`);
    }
    return segments;
  }

  protected clusterOffset(c: number): number {
    const l = this.layout;
    return (l.firstDataSector + (c - 2) * l.sectorsPerCluster) * l.bytesPerSector;
  }

  /** Reads whole clusters, one device request per contiguous run. */
  protected async readClusters(clusters: readonly number[], bytes: number): Promise<Uint8Array> {
    const cb = this.layout.clusterBytes;
    const out = new Uint8Array(bytes);
    for (let i = 0; i < clusters.length && i * cb < bytes; ) {
      let j = i;
      while (j + 1 < clusters.length && clusters[j + 1] === clusters[j]! + 1 && (j + 1) * cb < bytes) j++;
      const len = Math.min((j - i + 1) * cb, bytes - i * cb);
      out.set(await this.dev.read(this.clusterOffset(clusters[i]!), len), i * cb);
      i = j + 1;
    }
    return out;
  }

  protected async loadDir(cluster: number, key: string): Promise<Dir> {
    const cached = this.dirs.get(cluster);
    if (cached) return cached;
    const l = this.layout;
    let dir: Dir;
    if (cluster === 0 && l.type !== 32) {
      const bytes = (await this.dev.read(l.rootDirSector * l.bytesPerSector, l.rootDirSectors * l.bytesPerSector)).slice();
      dir = { cluster: 0, clusters: [], bytes, parsed: parseDirectory(bytes) };
    } else {
      const first = cluster === 0 ? l.rootCluster : cluster;
      const clusters = this.fat.chain(first);
      if (!clusters || clusters.length === 0) throw this.corrupt(key, `the directory's cluster chain from ${first} is broken`);
      const bytes = await this.readClusters(clusters, clusters.length * l.clusterBytes);
      dir = { cluster, clusters, bytes, parsed: parseDirectory(bytes) };
    }
    this.remember(dir);
    return dir;
  }

  protected remember(dir: Dir): void {
    if (this.dirs.size >= MAX_CACHED_DIRS) this.dirs.clear();
    this.dirs.set(dir.cluster, dir);
  }

  /** Drops cached directories that start in `clusters` (freed or overwritten as file data). */
  protected forget(clusters: readonly number[]): void {
    if (this.dirs.size === 0) return;
    for (const c of clusters) this.dirs.delete(c);
  }

  protected findIn(dir: Dir, name: string): DirEntry | undefined {
    if (!dir.byName) {
      dir.byName = new Map();
      for (const e of dir.parsed.entries) if (!dir.byName.has(fold(e.name))) dir.byName.set(fold(e.name), e);
    }
    return dir.byName.get(fold(name));
  }

  protected isDir(e: ShortEntry): boolean {
    return (e.attr & ATTR_DIRECTORY) !== 0;
  }

  protected async childDir(entry: DirEntry, key: string): Promise<Dir> {
    if (entry.firstCluster === 0) throw this.corrupt(key, "a directory without clusters");
    return this.loadDir(entry.firstCluster, key);
  }

  /** Looks up `segments`; null when absent; dictionary-expected when a value sits on the path. */
  protected async resolve(segments: readonly string[]): Promise<Found | null> {
    let dir = await this.loadDir(0, "/");
    if (segments.length === 0) return { root: true, dir };
    for (let i = 0; ; i++) {
      const entry = this.findIn(dir, segments[i]!);
      if (!entry) return null;
      if (i === segments.length - 1) return { root: false, parent: dir, entry };
      const k = keyOf(segments.slice(0, i + 1));
      if (!this.isDir(entry)) throw errors.dictionaryExpected(k, `cannot look up ${keyOf(segments)}`);
      dir = await this.childDir(entry, k);
    }
  }

  protected async findValue(key: string): Promise<{ entry: DirEntry; key: string }> {
    const segments = this.segmentsOf(key);
    const k = keyOf(segments);
    const found = await this.resolve(segments);
    if (!found) throw errors.notFound(k);
    if (found.root || this.isDir(found.entry)) throw errors.valueExpected(k);
    return { entry: found.entry, key: k };
  }

  protected fileClusters(entry: DirEntry, key: string): number[] {
    const chain = this.fat.chain(entry.firstCluster);
    if (!chain) throw this.corrupt(key, `the cluster chain from ${entry.firstCluster} is broken`);
    if (chain.length * this.layout.clusterBytes < entry.size) throw this.corrupt(key, `${entry.size} bytes but only ${chain.length} clusters`);
    return chain;
  }

  protected async readRange(entry: DirEntry, key: string, offset: number, length: number): Promise<Uint8Array> {
    const start = Math.min(offset, entry.size);
    const end = Math.min(entry.size, offset + length);
    if (end <= start) return new Uint8Array(0);
    const cb = this.layout.clusterBytes;
    const chain = this.fileClusters(entry, key);
    const first = Math.floor(start / cb);
    const last = Math.floor((end - 1) / cb);
    const bytes = await this.readClusters(chain.slice(first, last + 1), (last - first + 1) * cb);
    return bytes.slice(start - first * cb, end - first * cb);
  }

  exists(key: string): Promise<EntryKind | null> {
    return this.locked(key, async () => {
      const segments = this.segmentsOf(key);
      try {
        const found = await this.resolve(segments);
        return !found ? null : found.root || this.isDir(found.entry) ? "dictionary" : "value";
      } catch (e) {
        if (e instanceof KvError && e.code === "dictionary-expected") return null;
        throw e;
      }
    });
  }

  get(key: string): Promise<Uint8Array> {
    return this.locked(key, async () => {
      const { entry, key: k } = await this.findValue(key);
      return this.readRange(entry, k, 0, entry.size);
    });
  }

  getPartial(key: string, offset: number, length: number): Promise<Uint8Array> {
    return this.locked(key, async () => {
      const { entry, key: k } = await this.findValue(key);
      checkOffset(k, "offset", offset);
      checkOffset(k, "length", length);
      return this.readRange(entry, k, offset, length);
    });
  }

  list(key: string): Promise<Array<[string, EntryKind]>> {
    return this.locked(key, async () => {
      const segments = this.segmentsOf(key);
      const k = keyOf(segments);
      const found = await this.resolve(segments);
      if (!found) throw errors.notFound(k);
      if (!found.root && !this.isDir(found.entry)) throw errors.dictionaryExpected(k, "only dictionaries can be listed");
      const dir = found.root ? found.dir : await this.childDir(found.entry, k);
      return dir.parsed.entries
        .map((e): [string, EntryKind] => [childKey(k, e.name), this.isDir(e) ? "dictionary" : "value"])
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    });
  }

  lastModified(key: string): Promise<Date> {
    return this.locked(key, async () => {
      const segments = this.segmentsOf(key);
      const found = await this.resolve(segments);
      if (!found) throw errors.notFound(keyOf(segments));
      // The root has no entry of its own: it changed when its newest entry did.
      if (found.root) return new Date(Math.max(Date.UTC(1980, 0, 1), ...found.dir.parsed.entries.map((e) => e.mtimeMs)));
      return new Date(found.entry.mtimeMs);
    });
  }

  async digest(key: string): Promise<Uint8Array> {
    const k = keyOf(this.segmentsOf(key));
    const kind = await this.exists(k);
    if (kind === null) {
      await this.locked(k, () => this.findValue(k)); // throws the precise error
      throw errors.notFound(k);
    }
    if (kind === "dictionary") return digestDictionaryOf(this, k);
    const cached = this.digests.get(fold(k));
    if (cached && cached.generation === this.generation) return cached.digest;
    const generation = this.generation; // before reading: a write meanwhile makes this entry stale at once
    const digest = valueDigest(await this.get(k));
    if (this.digests.size >= 4096) this.digests.clear();
    this.digests.set(fold(k), { generation, digest });
    return digest;
  }

  size(key: string): Promise<number> {
    return this.locked(key, async () => (await this.findValue(key)).entry.size);
  }

  async disconnect(): Promise<void> {}
}

export class FatKvRw extends FatKvRo implements KvRw {
  static override async open(block: Block, what = "FAT file system"): Promise<FatKvRw> {
    const { dev, fat, layout } = await FatKvRo.load(block, what);
    if (!dev.readWrite) throw new KvError("read-only", "/", `${what}: the block device is read-only; use fatKvRo or open the disk read-write`);
    return new FatKvRw(dev, fat, layout, what);
  }

  /** A write: runs alone, and invalidates cached digests. */
  private writing<T>(key: string, task: () => Promise<T>): Promise<T> {
    return this.locked(key, async () => {
      this.generation++;
      try {
        return await task();
      } finally {
        this.generation++;
      }
    });
  }

  /** Writes bytes into a file's clusters from byte `offset` of the file. */
  private async writeClusters(chain: readonly number[], offset: number, data: Uint8Array): Promise<void> {
    this.forget(chain);
    const cb = this.layout.clusterBytes;
    let done = 0;
    while (done < data.length) {
      const pos = offset + done;
      const i = Math.floor(pos / cb);
      let j = i;
      const within = pos - i * cb;
      // Extend over physically contiguous clusters for one larger write.
      while (j + 1 < chain.length && chain[j + 1] === chain[j]! + 1 && (j + 1 - i) * cb - within < data.length - done) j++;
      const len = Math.min((j - i + 1) * cb - within, data.length - done);
      await this.dev.write(this.clusterOffset(chain[i]!) + within, data.subarray(done, done + len));
      done += len;
    }
  }

  /** FAT records sizes in 32 bits. */
  private checkFileSize(key: string, size: number): void {
    if (size > 0xffffffff) throw new KvError("no-space", key, `${key} would be ${size} bytes; a file on FAT holds at most 4 GiB - 1 byte`);
  }

  private clustersFor(size: number): number {
    return Math.ceil(size / this.layout.clusterBytes);
  }

  private takeClusters(n: number, key: string): number[] {
    const got = this.fat.allocate(n);
    if (!got) throw errors.noSpace(key, this.what);
    return got;
  }

  /** Writes a dir's byte range [from, to) back to the device. */
  private async writeDirRange(dir: Dir, from: number, to: number): Promise<void> {
    const l = this.layout;
    if (dir.clusters.length === 0) return this.dev.write(l.rootDirSector * l.bytesPerSector + from, dir.bytes.subarray(from, to));
    const cb = l.clusterBytes;
    for (let at = from; at < to; ) {
      const i = Math.floor(at / cb);
      const end = Math.min(to, (i + 1) * cb);
      await this.dev.write(this.clusterOffset(dir.clusters[i]!) + (at - i * cb), dir.bytes.subarray(at, end));
      at = end;
    }
  }

  private releaseClusters(clusters: readonly number[]): void {
    this.fat.release(clusters);
    this.forget(clusters);
  }

  /** Adds an entry named `name` to `dir` (long-name slots + 8.3 slot), growing the directory if needed. */
  private async addEntry(dir: Dir, name: string, fields: Omit<ShortEntry, "shortName" | "ntCase">, key: string): Promise<void> {
    const taken = (dir.shortNames ??= new Set(dir.parsed.entries.map((e) => shortNameText(e.shortName))));
    const short = shortNameFor(name, taken);
    const slots = short.needsLfn ? longNameSlots(name, lfnChecksum(short.shortName)) : [];
    const need = slots.length + 1;
    const slotCount = () => Math.floor(dir.bytes.length / ENTRY);
    let start = this.freeRun(dir, need);
    while (start < 0) {
      if (dir.clusters.length === 0) throw errors.noSpace(key, `${this.what} (its root directory is full: FAT12/16 roots have a fixed number of entries)`);
      if (dir.bytes.length + this.layout.clusterBytes > 65536 * ENTRY) throw errors.noSpace(key, `${this.what} (a FAT directory holds at most 65536 entries)`);
      const [c] = this.takeClusters(1, key);
      const zeros = new Uint8Array(this.layout.clusterBytes);
      await this.dev.write(this.clusterOffset(c!), zeros);
      this.fat.link([c!], dir.clusters[dir.clusters.length - 1]);
      await this.fat.commit();
      dir.clusters.push(c!);
      const grown = new Uint8Array(dir.bytes.length + zeros.length);
      grown.set(dir.bytes);
      dir.bytes = grown;
      start = this.freeRun(dir, need);
    }
    slots.forEach((s, i) => dir.bytes.set(s, (start + i) * ENTRY));
    writeShort(dir.bytes, (start + slots.length) * ENTRY, { ...fields, shortName: short.shortName, ntCase: short.ntCase });
    let end = (start + need) * ENTRY;
    // Entries written at the end of the directory need an end marker after them.
    if (start + need >= dir.parsed.endSlot && start + need < slotCount() && dir.bytes[end] !== 0) {
      dir.bytes.fill(0, end, end + ENTRY);
      end += ENTRY;
    }
    await this.writeDirRange(dir, start * ENTRY, end);
    // Keep the parsed view in step without parsing the whole directory again.
    const entry: DirEntry = { ...fields, mtimeMs: roundTime(fields.mtimeMs), shortName: short.shortName, ntCase: short.ntCase, name, firstSlot: start, shortSlot: start + slots.length };
    dir.parsed.entries.push(entry);
    dir.parsed.endSlot = Math.max(dir.parsed.endSlot, start + need);
    dir.parsed.slots = slotCount();
    if (dir.byName && !dir.byName.has(fold(name))) dir.byName.set(fold(name), entry);
    taken.add(shortNameText(short.shortName));
  }

  /** The first slot of `n` consecutive free slots (deleted or past the end marker), or -1. */
  private freeRun(dir: Dir, n: number): number {
    const slots = Math.floor(dir.bytes.length / ENTRY);
    const endSlot = dir.parsed.endSlot;
    // Slots 0 and 1 of a subdirectory are "." and "..": never reused.
    let run = 0;
    for (let i = dir.clusters.length > 0 && dir.cluster !== 0 ? 2 : 0; i < slots; i++) {
      const free = i >= endSlot || dir.bytes[i * ENTRY] === DELETED;
      run = free ? run + 1 : 0;
      if (run === n) return i - n + 1;
    }
    return -1;
  }

  private async deleteEntry(dir: Dir, entry: DirEntry): Promise<void> {
    for (let s = entry.firstSlot; s <= entry.shortSlot; s++) dir.bytes[s * ENTRY] = DELETED;
    await this.writeDirRange(dir, entry.firstSlot * ENTRY, (entry.shortSlot + 1) * ENTRY);
    const entries = dir.parsed.entries;
    const i = entries.indexOf(entry);
    if (i < 0) throw new Error(`internal error: ${entry.name} is not an entry of the directory being changed`);
    entries.splice(i, 1);
    const f = fold(entry.name);
    if (dir.byName?.get(f) === entry) {
      const other = entries.find((e) => fold(e.name) === f); // a damaged directory may hold the name twice
      if (other) dir.byName.set(f, other);
      else dir.byName.delete(f);
    }
    dir.shortNames?.delete(shortNameText(entry.shortName));
  }

  /** Rewrites an entry's 8.3 slot (cluster, size, time); its name and slots stay. */
  private async updateEntry(dir: Dir, entry: DirEntry, fields: Partial<Omit<ShortEntry, "shortName" | "ntCase">>): Promise<void> {
    const next = { ...entry, ...fields };
    writeShort(dir.bytes, entry.shortSlot * ENTRY, next);
    await this.writeDirRange(dir, entry.shortSlot * ENTRY, (entry.shortSlot + 1) * ENTRY);
    Object.assign(entry, fields, { mtimeMs: roundTime(next.mtimeMs) });
  }

  /** Makes a new, empty subdirectory `name` in `parent` and returns it loaded. */
  private async makeDir(parent: Dir, name: string, key: string, mtimeMs: number): Promise<Dir> {
    const [c] = this.takeClusters(1, key);
    const bytes = new Uint8Array(this.layout.clusterBytes);
    bytes.set(dotEntries(c!, parent.cluster, mtimeMs));
    await this.dev.write(this.clusterOffset(c!), bytes);
    this.fat.link([c!]);
    await this.fat.commit();
    await this.addEntry(parent, name, { attr: ATTR_DIRECTORY, firstCluster: c!, size: 0, mtimeMs }, key);
    const dir: Dir = { cluster: c!, clusters: [c!], bytes, parsed: parseDirectory(bytes) };
    this.remember(dir);
    return dir;
  }

  /** Checks (changing nothing) that `segments` can hold a value; returns the existing entry, if any, and how many dictionaries are missing. */
  private async checkValuePath(segments: readonly string[]): Promise<{ existing: DirEntry | null; missing: number }> {
    const k = keyOf(segments);
    if (segments.length === 0) throw errors.valueExpected("/", "the root is always a dictionary");
    let dir = await this.loadDir(0, "/");
    for (let i = 0; i < segments.length; i++) {
      const entry = this.findIn(dir, segments[i]!);
      if (!entry) return { existing: null, missing: segments.length - 1 - i };
      if (i === segments.length - 1) {
        if (this.isDir(entry)) throw errors.valueExpected(k, "remove it before storing a value there");
        return { existing: entry, missing: 0 };
      }
      if (!this.isDir(entry)) throw errors.dictionaryExpected(keyOf(segments.slice(0, i + 1)), `cannot store ${k} below it`);
      dir = await this.childDir(entry, keyOf(segments.slice(0, i + 1)));
    }
    return { existing: null, missing: 0 };
  }

  /** The parent directory of `segments`, creating missing dictionaries. */
  private async parentFor(segments: readonly string[], mtimeMs: number): Promise<Dir> {
    let dir = await this.loadDir(0, "/");
    for (let i = 0; i < segments.length - 1; i++) {
      const k = keyOf(segments.slice(0, i + 1));
      const entry = this.findIn(dir, segments[i]!);
      if (!entry) dir = await this.makeDir(dir, segments[i]!, k, mtimeMs);
      else if (!this.isDir(entry)) throw errors.dictionaryExpected(k, `cannot store ${keyOf(segments)} below it`);
      else dir = await this.childDir(entry, k);
    }
    return dir;
  }

  /** Stores `data` as a new chain and points the entry at it, then frees the old chain. */
  private async writeValue(segments: string[], data: Uint8Array, mtimeMs: number): Promise<void> {
    return this.writeNewChain(segments, data.length, (chain) => this.fill(chain, 0, data), mtimeMs);
  }

  /** Writes `data` at byte `at` of a chain, then zeros up to the end of its last cluster. */
  private async fill(chain: readonly number[], at: number, data: Uint8Array): Promise<void> {
    await this.writeClusters(chain, at, data);
    const end = at + data.length;
    const slack = chain.length * this.layout.clusterBytes - end;
    // Zeroed slack: no bytes of deleted files linger after our data.
    if (slack > 0) await this.writeClusters(chain, end, new Uint8Array(slack));
  }

  /** Zeros [from, to) of a chain, a megabyte at a time. */
  private async zero(chain: readonly number[], from: number, to: number): Promise<void> {
    const chunk = new Uint8Array(Math.min(to - from, 1024 * 1024));
    for (let at = from; at < to; at += chunk.length) await this.writeClusters(chain, at, chunk.subarray(0, Math.min(chunk.length, to - at)));
  }

  /** Stores a value of `size` bytes in new clusters (filled by `write`), then points the entry at them and frees the old ones. */
  private async writeNewChain(segments: string[], size: number, write: (chain: number[]) => Promise<void>, mtimeMs: number): Promise<void> {
    const k = keyOf(segments);
    const { existing, missing } = await this.checkValuePath(segments);
    this.checkFileSize(k, size);
    // Enough room for the data, new dictionaries and a directory growing by a cluster each.
    if (this.clustersFor(size) + 2 * missing + 1 > this.fat.free) throw errors.noSpace(k, this.what);
    const parent = await this.parentFor(segments, mtimeMs);
    const chain = this.takeClusters(this.clustersFor(size), k);
    await write(chain);
    this.fat.link(chain);
    await this.fat.commit();
    const fields = { attr: ATTR_ARCHIVE, firstCluster: chain[0] ?? 0, size, mtimeMs };
    const entry = existing ? this.findIn(parent, segments[segments.length - 1]!)! : null;
    if (entry) {
      const old = this.fat.chain(entry.firstCluster);
      await this.updateEntry(parent, entry, { ...fields, attr: entry.attr | ATTR_ARCHIVE }); // hidden, system and read-only bits stay
      if (old) this.releaseClusters(old);
      await this.fat.commit();
    } else {
      try {
        await this.addEntry(parent, segments[segments.length - 1]!, fields, k);
      } catch (e) {
        // No room for the entry (a full FAT12/16 root): give the data's clusters back.
        this.releaseClusters(chain);
        await this.fat.commit();
        throw e;
      }
    }
    await this.dev.flush();
  }

  set(key: string, value: Uint8Array | string): Promise<void> {
    return this.writing(key, () => this.writeValue(this.segmentsOf(key), toBytes(value), nowMs()));
  }

  setPartial(key: string, offset: number, data: Uint8Array | string): Promise<void> {
    return this.writing(key, async () => {
      const segments = this.segmentsOf(key);
      const k = keyOf(segments);
      checkOffset(k, "offset", offset);
      const bytes = toBytes(data);
      const { existing } = await this.checkValuePath(segments);
      if (!existing) {
        return this.writeNewChain(segments, offset + bytes.length, async (chain) => {
          await this.zero(chain, 0, offset);
          await this.fill(chain, offset, bytes);
        }, nowMs());
      }
      const parent = (await this.resolve(segments)) as Extract<Found, { root: false }>;
      const entry = parent.entry;
      const chain = this.fileClusters(entry, k);
      const newSize = Math.max(entry.size, offset + bytes.length);
      this.checkFileSize(k, newSize);
      const extra = this.takeClusters(Math.max(0, this.clustersFor(newSize) - chain.length), k);
      const all = [...chain, ...extra];
      // The gap between the old end and `offset` reads as zeros; so does the slack after the new end.
      if (offset > entry.size) await this.zero(all, entry.size, offset);
      await this.writeClusters(all, offset, bytes);
      const clusterEnd = all.length * this.layout.clusterBytes;
      if (newSize > entry.size && clusterEnd > newSize) await this.zero(all, newSize, clusterEnd);
      if (extra.length > 0) {
        this.fat.link(extra, chain[chain.length - 1]);
        await this.fat.commit();
      }
      await this.updateEntry(parent.parent, entry, { size: newSize, mtimeMs: nowMs(), firstCluster: all[0] ?? 0 });
      await this.dev.flush();
    });
  }

  allocate(key: string, size: number, lastModified?: Date): Promise<void> {
    return this.writing(key, async () => {
      const segments = this.segmentsOf(key);
      const k = keyOf(segments);
      checkOffset(k, "size", size);
      let found: Found | null = null;
      try {
        found = await this.resolve(segments);
      } catch (e) {
        if (!(e instanceof KvError && e.code === "dictionary-expected")) throw e;
      }
      if (segments.length === 0 || found) throw errors.alreadyPresent(k, "allocate only creates new values");
      await this.writeNewChain(segments, size, (chain) => this.zero(chain, 0, chain.length * this.layout.clusterBytes), lastModified?.getTime() ?? nowMs());
    });
  }

  /** Every cluster of a file or of a whole directory tree. */
  private async treeClusters(entry: DirEntry, key: string, out: number[], depth = 0): Promise<void> {
    if (depth > MAX_DEPTH) throw this.corrupt(key, `directories nested more than ${MAX_DEPTH} deep (a loop)`);
    const chain = this.fat.chain(entry.firstCluster) ?? [];
    if (this.isDir(entry) && entry.firstCluster !== 0) {
      const dir = await this.childDir(entry, key);
      for (const e of dir.parsed.entries) await this.treeClusters(e, childKey(key, e.name), out, depth + 1);
    }
    out.push(...chain);
  }

  private async removeEntry(dir: Dir, entry: DirEntry, key: string): Promise<void> {
    const clusters: number[] = [];
    await this.treeClusters(entry, key, clusters);
    await this.deleteEntry(dir, entry);
    this.releaseClusters(clusters);
    await this.fat.commit();
  }

  remove(key: string): Promise<void> {
    return this.writing(key, async () => {
      const segments = this.segmentsOf(key);
      const k = keyOf(segments);
      let found: Found | null;
      try {
        found = await this.resolve(segments);
      } catch (e) {
        if (e instanceof KvError && e.code === "dictionary-expected") return;
        throw e;
      }
      if (!found) return;
      if (found.root) {
        for (const e of [...found.dir.parsed.entries]) await this.removeEntry(found.dir, this.findIn(found.dir, e.name)!, childKey(k, e.name));
      } else await this.removeEntry(found.parent, found.entry, k);
      await this.dev.flush();
    });
  }

  rename(source: string, dest: string): Promise<void> {
    return this.writing(source, async () => {
      const src = this.segmentsOf(source);
      let dst = this.segmentsOf(dest);
      const from = await this.resolve(src);
      if (!from) throw errors.notFound(keyOf(src));
      const same = (a: readonly string[], b: readonly string[]) => a.map(fold).join("/") === b.map(fold).join("/");
      const caseOnly = same(src, dst) && src.join("/") !== dst.join("/");
      if (from.root || (isPrefixOf(src.map(fold), dst.map(fold)) && !caseOnly)) throw errors.sourcePrefix(keyOf(src), keyOf(dst));
      const destFound = caseOnly ? null : await this.resolve(dst).catch(() => null);
      if (destFound && (destFound.root || this.isDir(destFound.entry))) dst = [...dst, src[src.length - 1]!];
      if (same(src, dst) && !caseOnly) return; // moving an entry into the dictionary that already holds it
      const target = same(src, dst) ? null : await this.resolve(dst);
      if (target && (target.root || this.isDir(target.entry))) throw errors.alreadyPresent(keyOf(dst), `cannot rename ${keyOf(src)} over a dictionary; remove it first`);
      await this.checkParents(dst);
      const now = nowMs();
      const moving = from.entry;
      const destParent = await this.parentFor(dst, now);
      // The replaced value goes first (its name is about to be reused), its clusters only at the end.
      let freed: number[] = [];
      let replaced: DirEntry | null = null;
      if (target && !target.root) {
        replaced = this.findIn(destParent, dst[dst.length - 1]!)!;
        freed = this.fat.chain(replaced.firstCluster) ?? [];
        await this.deleteEntry(destParent, replaced);
      }
      let srcParent = await this.resolveDir(src.slice(0, -1));
      if (srcParent.cluster === destParent.cluster) srcParent = destParent;
      const old = this.findIn(srcParent, src[src.length - 1]!)!;
      if (srcParent === destParent && fold(old.name) === fold(dst[dst.length - 1]!)) {
        // Same entry, new spelling: the entry is replaced in place.
        await this.deleteEntry(srcParent, old);
        await this.addEntry(destParent, dst[dst.length - 1]!, { attr: moving.attr, firstCluster: moving.firstCluster, size: moving.size, mtimeMs: moving.mtimeMs }, keyOf(dst));
      } else {
        try {
          await this.addEntry(destParent, dst[dst.length - 1]!, { attr: moving.attr, firstCluster: moving.firstCluster, size: moving.size, mtimeMs: moving.mtimeMs }, keyOf(dst));
        } catch (e) {
          // No room for the new name: put the replaced value back (its slots are free again).
          if (replaced) await this.addEntry(destParent, replaced.name, replaced, keyOf(dst));
          throw e;
        }
        await this.deleteEntry(srcParent, this.findIn(srcParent, src[src.length - 1]!)!);
      }
      if (this.isDir(moving) && srcParent.cluster !== destParent.cluster) {
        // A moved directory's ".." must name its new parent (0 for the root).
        const moved = await this.childDir(moving, keyOf(dst));
        put16(moved.bytes, ENTRY + 20, destParent.cluster >>> 16);
        put16(moved.bytes, ENTRY + 26, destParent.cluster & 0xffff);
        await this.writeDirRange(moved, ENTRY, 2 * ENTRY);
      }
      if (freed.length > 0) {
        this.releaseClusters(freed);
        await this.fat.commit();
      }
      await this.dev.flush();
    });
  }

  private async checkParents(segments: readonly string[]): Promise<void> {
    let dir = await this.loadDir(0, "/");
    for (let i = 0; i < segments.length - 1; i++) {
      const entry = this.findIn(dir, segments[i]!);
      if (!entry) return;
      const k = keyOf(segments.slice(0, i + 1));
      if (!this.isDir(entry)) throw errors.dictionaryExpected(k, `cannot store ${keyOf(segments)} below it`);
      dir = await this.childDir(entry, k);
    }
  }

  private async resolveDir(segments: readonly string[]): Promise<Dir> {
    const found = await this.resolve(segments);
    if (!found) throw errors.notFound(keyOf(segments));
    if (found.root) return found.dir;
    return this.childDir(found.entry, keyOf(segments));
  }
}

export function fatKvRo(block: Block): Promise<FatKvRo> {
  return FatKvRo.open(block);
}

export function fatKv(block: Block): Promise<FatKvRw> {
  return FatKvRw.open(block);
}
