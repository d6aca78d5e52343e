// A Block on a host file (unix): positional reads and writes through one FileHandle, flush = fsync.
import { open, readFile, type FileHandle } from "node:fs/promises";
import type { Block, BlockInfo } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { assertSectorSize, checkIo, disconnectedError } from "./checks.ts";

export interface FileBlockOptions {
  /** Bytes per sector (default 512). The file size must be a multiple of it. */
  sectorSize?: number;
  /** Open the file read-only: writes fail with "read-only". */
  readOnly?: boolean;
}

function errnoHint(e: unknown, path = "FILE"): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case "ENOENT":
      return `no such file; create one first, e.g. \`truncate -s 32M ${path}\``;
    case "EACCES":
    case "EPERM":
      return "permission denied; check the file's permissions or open it read-only";
    case "EISDIR":
      return "it is a directory, not a disk image";
    case "EROFS":
      return "the file system is read-only; open the disk read-only";
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** Size in bytes of a host block device (whose stat size is 0), from Linux sysfs. */
async function blockDeviceBytes(rdev: number): Promise<number> {
  const major = Math.floor(rdev / 256) & 0xfff;
  const minor = (rdev & 0xff) | (Math.floor(rdev / 4096) & ~0xff);
  const text = await readFile(`/sys/dev/block/${major}:${minor}/size`, "utf8");
  const sectors = Number(text.trim());
  if (!Number.isSafeInteger(sectors)) throw new Error(`unexpected size "${text.trim()}" in sysfs`);
  return sectors * 512; // sysfs counts 512-byte units whatever the device's sector size
}

export class FileBlock implements Block {
  readonly #info: BlockInfo;
  readonly #what: string;
  readonly #handle: FileHandle;
  #connected = true;
  readonly #inFlight = new Set<Promise<unknown>>();

  private constructor(handle: FileHandle, what: string, info: BlockInfo) {
    this.#handle = handle;
    this.#what = what;
    this.#info = info;
  }

  /** Opens `path` as a disk. Fails if it is missing or its size is not a whole number of sectors. */
  static async open(path: string, options: FileBlockOptions = {}): Promise<FileBlock> {
    const sectorSize = options.sectorSize ?? 512;
    const readOnly = options.readOnly ?? false;
    const what = `block device on file ${path}`;
    assertSectorSize(sectorSize, what);
    let handle: FileHandle;
    try {
      handle = await open(path, readOnly ? "r" : "r+");
    } catch (e) {
      throw new BlockError("io", `${what}: cannot open: ${errnoHint(e, path)}`, { cause: e });
    }
    try {
      const st = await handle.stat();
      if (!st.isFile() && !st.isBlockDevice()) throw new BlockError("io", `${what}: not a regular file or block device`);
      let size = st.size;
      if (st.isBlockDevice()) {
        try {
          size = await blockDeviceBytes(st.rdev);
        } catch (e) {
          throw new BlockError("io", `${what}: cannot find the size of this block device in /sys/dev/block: ${errnoHint(e)}`, { cause: e });
        }
      }
      if (size % sectorSize !== 0) {
        throw new BlockError(
          "misaligned",
          `${what}: size ${size} bytes is not a multiple of the ${sectorSize}-byte sector size; ` +
            `resize it (e.g. \`truncate -s ${Math.ceil(size / sectorSize) * sectorSize} ${path}\`) or choose another sector size`,
        );
      }
      return new FileBlock(handle, what, { readWrite: !readOnly, sectorSize, sizeSectors: size / sectorSize });
    } catch (e) {
      await handle.close().catch(() => {});
      if (e instanceof BlockError) throw e;
      throw new BlockError("io", `${what}: cannot read its size: ${errnoHint(e)}`, { cause: e });
    }
  }

  async info(): Promise<BlockInfo> {
    return { ...this.#info };
  }

  read(sector: number, buffer: Uint8Array): Promise<void> {
    return this.#track("read", async () => {
      checkIo(this.#what, this.#info, "read", sector, buffer);
      const position = sector * this.#info.sectorSize;
      let done = 0;
      while (done < buffer.length) {
        const { bytesRead } = await this.#handle.read(buffer, done, buffer.length - done, position + done);
        if (bytesRead === 0) {
          throw new BlockError("io", `${this.#what}: read at byte ${position + done} hit the end of file; was the file truncated while in use?`);
        }
        done += bytesRead;
      }
    });
  }

  write(sector: number, buffer: Uint8Array): Promise<void> {
    return this.#track("write", async () => {
      checkIo(this.#what, this.#info, "write", sector, buffer);
      const position = sector * this.#info.sectorSize;
      let done = 0;
      while (done < buffer.length) {
        const { bytesWritten } = await this.#handle.write(buffer, done, buffer.length - done, position + done);
        done += bytesWritten;
      }
    });
  }

  flush(): Promise<void> {
    return this.#track("flush", async () => {
      if (this.#info.readWrite) await this.#handle.sync();
    });
  }

  /** Waits for operations in progress, then closes the file. Later calls fail with "disconnected". */
  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await Promise.allSettled([...this.#inFlight]);
    await this.#handle.close();
  }

  async #track(op: string, run: () => Promise<void>): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.#what, op);
    const p = run().catch((e: unknown) => {
      if (e instanceof BlockError) throw e;
      throw new BlockError("io", `${this.#what}: ${op} failed: ${errnoHint(e)}`, { cause: e });
    });
    this.#inFlight.add(p);
    try {
      await p;
    } finally {
      this.#inFlight.delete(p);
    }
  }
}

/** Opens a host file as a Block (see FileBlock.open). */
export function openFile(path: string, options: FileBlockOptions = {}): Promise<FileBlock> {
  return FileBlock.open(path, options);
}
