// A host directory as a store (unix). Every key is resolved segment by segment; a symlink is
// followed only when its real path stays inside the directory, so no key can reach outside it.
// Writes are durable: a temporary file is written and fsynced, renamed over the target, and the
// directory is fsynced.
import { constants, promises as fs, type Stats } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { EntryKind, KvRo, KvRw } from "../devices/kv.ts";
import { KvError } from "../devices/errors.ts";
import { randomUint32 } from "oasis/random";
import { childKey, checkOffset, errors, isPrefixOf, keyOf, parseKey, toBytes } from "./key.ts";
import { digestDictionaryOf } from "./digest.ts";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

const TEMP_PREFIX = ".oasis-tmp-";

interface Located {
  /** The path of the entry itself (a symlink stays a symlink: remove/rename act on the link). */
  entry: string;
  /** The real path, inside the store's directory. */
  real: string;
  stat: Stats;
  kind: EntryKind | null;
}

function kindOf(st: Stats): EntryKind | null {
  return st.isDirectory() ? "dictionary" : st.isFile() ? "value" : null;
}

function io(key: string, what: string, e: unknown): KvError {
  if (e instanceof KvError) return e;
  const why = e instanceof Error ? e.message : String(e);
  return new KvError("io", key, `${what} ${key} failed: ${why}`, { cause: e });
}

export class DirectKvRo implements KvRo {
  private readonly digests = new Map<string, { ino: number; size: number; mtimeMs: number; ctimeMs: number; digest: Uint8Array }>();

  protected constructor(
    readonly dir: string,
    protected readonly root: string,
  ) {}

  static async open(dir: string): Promise<DirectKvRo> {
    return new DirectKvRo(dir, await DirectKvRo.realRoot(dir));
  }

  protected static async realRoot(dir: string): Promise<string> {
    const abs = resolve(dir);
    let real: string;
    try {
      real = await fs.realpath(abs);
    } catch (e) {
      throw new Error(`store directory ${abs} cannot be opened (${(e as Error).message}); create it or pass another directory in config.ts`, { cause: e });
    }
    if (!(await fs.stat(real)).isDirectory()) throw new Error(`store directory ${abs} is not a directory`);
    return real;
  }

  protected inside(path: string): boolean {
    return path === this.root || path.startsWith(this.root + sep);
  }

  /** Resolves one directory entry, following a symlink only if it stays inside the store. Null when absent. */
  protected async resolveEntry(key: string, entry: string): Promise<Located | null> {
    let st: Stats;
    try {
      st = await fs.lstat(entry);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw io(key, "looking up", e);
    }
    if (!st.isSymbolicLink()) return { entry, real: entry, stat: st, kind: kindOf(st) };
    let real: string;
    try {
      real = await fs.realpath(entry);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ELOOP") return null; // a dangling link holds nothing
      throw io(key, "resolving", e);
    }
    if (!this.inside(real)) throw new KvError("invalid-key", key, `${key} is a symbolic link leading outside the store directory ${this.root}; it is not accessible through the store`);
    st = await fs.stat(real);
    return { entry, real, stat: st, kind: kindOf(st) };
  }

  /** Walks `segments` from the root; null when some segment is missing. */
  protected async locate(segments: readonly string[]): Promise<Located | null> {
    let current: Located = { entry: this.root, real: this.root, stat: await fs.stat(this.root), kind: "dictionary" };
    for (let i = 0; i < segments.length; i++) {
      if (current.kind !== "dictionary") {
        if (current.kind === "value") throw errors.dictionaryExpected(keyOf(segments.slice(0, i)), `cannot look up ${keyOf(segments)}`);
        return null;
      }
      const next = await this.resolveEntry(keyOf(segments.slice(0, i + 1)), join(current.real, segments[i]!));
      if (!next) return null;
      current = next;
    }
    return current;
  }

  /** Keys of this store: shared rules, plus our temporary-file names are not keys. */
  protected segmentsOf(key: string): string[] {
    const segments = parseKey(key);
    if (segments.some((s) => s.startsWith(TEMP_PREFIX))) throw new KvError("invalid-key", key, `invalid key ${JSON.stringify(key)}: names starting with ${TEMP_PREFIX} are the store's temporary files`);
    return segments;
  }

  protected async find(key: string): Promise<{ at: Located; key: string }> {
    const segments = this.segmentsOf(key);
    const k = keyOf(segments);
    const at = await this.locate(segments);
    if (!at || at.kind === null) throw errors.notFound(k);
    return { at, key: k };
  }

  protected async findValue(key: string): Promise<{ at: Located; key: string }> {
    const found = await this.find(key);
    if (found.at.kind !== "value") throw errors.valueExpected(found.key);
    return found;
  }

  async exists(key: string): Promise<EntryKind | null> {
    const segments = this.segmentsOf(key);
    try {
      return (await this.locate(segments))?.kind ?? null;
    } catch (e) {
      if (e instanceof KvError && e.code === "dictionary-expected") return null;
      throw e;
    }
  }

  async get(key: string): Promise<Uint8Array> {
    const { at, key: k } = await this.findValue(key);
    try {
      return new Uint8Array(await fs.readFile(at.real));
    } catch (e) {
      throw io(k, "reading", e);
    }
  }

  async getPartial(key: string, offset: number, length: number): Promise<Uint8Array> {
    const { at, key: k } = await this.findValue(key);
    checkOffset(k, "offset", offset);
    checkOffset(k, "length", length);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(at.real, "r");
      const size = (await fh.stat()).size;
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      length = buf.length;
      let got = 0;
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.slice(0, got);
    } catch (e) {
      throw io(k, "reading", e);
    } finally {
      await fh?.close();
    }
  }

  async list(key: string): Promise<Array<[string, EntryKind]>> {
    const { at, key: k } = await this.find(key);
    if (at.kind !== "dictionary") throw errors.dictionaryExpected(k, "only dictionaries can be listed");
    const out: Array<[string, EntryKind]> = [];
    for (const name of await fs.readdir(at.real)) {
      if (name.startsWith(TEMP_PREFIX)) continue;
      const child = childKey(k, name);
      try {
        const c = await this.resolveEntry(child, join(at.real, name));
        if (c?.kind) out.push([child, c.kind]);
      } catch (e) {
        if (!(e instanceof KvError && e.code === "invalid-key")) throw e; // links leading outside are not listed
      }
    }
    return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async lastModified(key: string): Promise<Date> {
    return new Date((await this.find(key)).at.stat.mtimeMs);
  }

  async digest(key: string): Promise<Uint8Array> {
    const { at, key: k } = await this.find(key);
    if (at.kind !== "value") return digestDictionaryOf(this, k);
    // A file is hashed again only when it changed (ctime moves on every write, rename or chmod).
    const st = at.stat;
    const cached = this.digests.get(at.real);
    if (cached && cached.ino === st.ino && cached.size === st.size && cached.mtimeMs === st.mtimeMs && cached.ctimeMs === st.ctimeMs) return cached.digest;
    let digest: Uint8Array;
    try {
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(at.real)) hash.update(chunk as Buffer);
      digest = new Uint8Array(hash.digest());
    } catch (e) {
      throw io(k, "reading", e);
    }
    if (this.digests.size >= 4096) this.digests.clear();
    this.digests.set(at.real, { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, digest });
    return digest;
  }

  async size(key: string): Promise<number> {
    return (await this.findValue(key)).at.stat.size;
  }

  async disconnect(): Promise<void> {}
}

async function fsyncPath(path: string, flags: number): Promise<void> {
  const fh = await fs.open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class DirectKvRw extends DirectKvRo implements KvRw {
  static override async open(dir: string): Promise<DirectKvRw> {
    return new DirectKvRw(dir, await DirectKvRo.realRoot(dir));
  }

  /** The real directory that holds the last segment, creating missing dictionaries. */
  private async parentDir(segments: readonly string[], create: boolean): Promise<string | null> {
    let dir = this.root;
    for (let i = 0; i < segments.length - 1; i++) {
      const k = keyOf(segments.slice(0, i + 1));
      const path = join(dir, segments[i]!);
      let at = await this.resolveEntry(k, path);
      if (!at) {
        if (!create) return null;
        try {
          await fs.mkdir(path);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw io(k, "creating", e);
        }
        await fsyncPath(dir, constants.O_RDONLY);
        at = await this.resolveEntry(k, path);
      }
      if (at?.kind !== "dictionary") throw errors.dictionaryExpected(k, `cannot store ${keyOf(segments)} below it`);
      dir = at.real;
    }
    return dir;
  }

  private async checkValuePath(segments: readonly string[]): Promise<Located | null> {
    if (segments.length === 0) throw errors.valueExpected("/", "the root is always a dictionary");
    const at = await this.locate(segments);
    if (at?.kind === "dictionary") throw errors.valueExpected(keyOf(segments), "remove it before storing a value there");
    if (at && at.kind === null) throw new KvError("io", keyOf(segments), `${keyOf(segments)} is neither a file nor a directory on the host (${at.real}); remove it by hand`);
    return at;
  }

  /** Writes a temporary file next to the target, fsyncs it, then renames it into place. */
  private async writeDurably(key: string, dir: string, name: string, fill: (fh: fs.FileHandle) => Promise<void>, mtime?: Date): Promise<void> {
    const temp = join(dir, `${TEMP_PREFIX}${randomUint32().toString(16)}-${name}`.slice(0, 250));
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(temp, "wx", 0o644);
      await fill(fh);
      await fh.sync();
      await fh.close();
      fh = undefined;
      if (mtime) await fs.utimes(temp, mtime, mtime);
      await fs.rename(temp, join(dir, name));
      await fsyncPath(dir, constants.O_RDONLY);
    } catch (e) {
      await fh?.close().catch(() => {});
      await fs.rm(temp, { force: true }).catch(() => {});
      throw io(key, "writing", e);
    }
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    const segments = this.segmentsOf(key);
    await this.checkValuePath(segments);
    const bytes = toBytes(value);
    const dir = (await this.parentDir(segments, true))!;
    await this.writeDurably(keyOf(segments), dir, segments[segments.length - 1]!, async (fh) => {
      await fh.writeFile(bytes);
    });
  }

  async setPartial(key: string, offset: number, data: Uint8Array | string): Promise<void> {
    const segments = this.segmentsOf(key);
    const k = keyOf(segments);
    checkOffset(k, "offset", offset);
    const existing = await this.checkValuePath(segments);
    const bytes = toBytes(data);
    const dir = (await this.parentDir(segments, true))!;
    const target = existing?.real ?? join(dir, segments[segments.length - 1]!);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(target, existing ? "r+" : "wx", 0o644);
      const st = await fh.stat();
      if (offset > st.size) await fh.truncate(offset); // the gap reads as zeros
      let done = 0;
      while (done < bytes.length) done += (await fh.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
      await fh.sync();
      if (!existing) await fsyncPath(dir, constants.O_RDONLY);
    } catch (e) {
      throw io(k, "writing", e);
    } finally {
      await fh?.close();
    }
  }

  async allocate(key: string, size: number, lastModified?: Date): Promise<void> {
    const segments = this.segmentsOf(key);
    const k = keyOf(segments);
    checkOffset(k, "size", size);
    if (segments.length === 0 || (await this.exists(k)) !== null) throw errors.alreadyPresent(k, "allocate only creates new values");
    const dir = (await this.parentDir(segments, true))!;
    await this.writeDurably(k, dir, segments[segments.length - 1]!, (fh) => fh.truncate(size), lastModified);
  }

  async remove(key: string): Promise<void> {
    const segments = this.segmentsOf(key);
    const k = keyOf(segments);
    if (segments.length === 0) {
      for (const name of await fs.readdir(this.root)) await fs.rm(join(this.root, name), { recursive: true, force: true });
      await fsyncPath(this.root, constants.O_RDONLY);
      return;
    }
    let dir: string | null;
    try {
      dir = await this.parentDir(segments, false);
    } catch (e) {
      if (e instanceof KvError && e.code === "dictionary-expected") return;
      throw e;
    }
    if (!dir) return;
    try {
      // rm on a symlink removes the link, never what it points to.
      await fs.rm(join(dir, segments[segments.length - 1]!), { recursive: true, force: true });
      await fsyncPath(dir, constants.O_RDONLY);
    } catch (e) {
      throw io(k, "removing", e);
    }
  }

  async rename(source: string, dest: string): Promise<void> {
    const src = this.segmentsOf(source);
    let dst = this.segmentsOf(dest);
    const from = await this.locate(src);
    if (!from || from.kind === null) throw errors.notFound(keyOf(src));
    if (src.length === 0 || isPrefixOf(src, dst)) throw errors.sourcePrefix(keyOf(src), keyOf(dst));
    if ((await this.locate(dst))?.kind === "dictionary") dst = [...dst, src[src.length - 1]!];
    if (isPrefixOf(src, dst)) return;
    const target = await this.locate(dst);
    if (target?.kind === "dictionary") throw errors.alreadyPresent(keyOf(dst), `cannot rename ${keyOf(src)} over a dictionary; remove it first`);
    const srcDir = (await this.parentDir(src, false))!;
    const dstDir = (await this.parentDir(dst, true))!;
    const to = join(dstDir, dst[dst.length - 1]!);
    try {
      if (target && from.kind === "dictionary") await fs.rm(to, { force: true });
      await fs.rename(join(srcDir, src[src.length - 1]!), to);
      await fsyncPath(dstDir, constants.O_RDONLY);
      if (srcDir !== dstDir) await fsyncPath(srcDir, constants.O_RDONLY);
    } catch (e) {
      throw io(keyOf(src), "renaming", e);
    }
  }
}

export function directKvRo(dir: string): Promise<DirectKvRo> {
  return DirectKvRo.open(dir);
}

export function directKvRw(dir: string): Promise<DirectKvRw> {
  return DirectKvRw.open(dir);
}
