// An in-memory Block, zero-filled. Memory is allocated in chunks on first write, so a large
// ramdisk that is mostly empty costs little.
import type { Block, BlockInfo } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { assertSectorSize, checkIo, disconnectedError } from "./checks.ts";

export interface RamdiskOptions {
  /** Number of sectors (default 65536, i.e. 32 MiB of 512-byte sectors). */
  sizeSectors?: number;
  /** Bytes per sector (default 512). */
  sectorSize?: number;
  /** Used in error messages. */
  name?: string;
}

const CHUNK_BYTES = 64 * 1024;

export class Ramdisk implements Block {
  readonly #info: BlockInfo;
  readonly #name: string;
  readonly #chunkBytes: number;
  readonly #chunks = new Map<number, Uint8Array>();
  #connected = true;

  constructor(options: RamdiskOptions = {}) {
    const sectorSize = options.sectorSize ?? 512;
    const sizeSectors = options.sizeSectors ?? 65536;
    this.#name = `ramdisk ${options.name ?? "(anonymous)"}`;
    assertSectorSize(sectorSize, this.#name);
    if (!Number.isSafeInteger(sizeSectors) || sizeSectors < 0) {
      throw new BlockError("out-of-range", `${this.#name}: size ${sizeSectors} sectors must be a non-negative integer`);
    }
    this.#info = { readWrite: true, sectorSize, sizeSectors };
    this.#chunkBytes = Math.max(CHUNK_BYTES, sectorSize);
  }

  async info(): Promise<BlockInfo> {
    return { ...this.#info };
  }

  async read(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.#name, "read");
    checkIo(this.#name, this.#info, "read", sector, buffer);
    this.#copy(sector * this.#info.sectorSize, buffer, false);
  }

  async write(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.#name, "write");
    checkIo(this.#name, this.#info, "write", sector, buffer);
    this.#copy(sector * this.#info.sectorSize, buffer, true);
  }

  async flush(): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.#name, "flush");
  }

  async disconnect(): Promise<void> {
    this.#connected = false;
  }

  /** Bytes held in memory (for tests of the sparse allocation). */
  get allocatedBytes(): number {
    return this.#chunks.size * this.#chunkBytes;
  }

  #copy(offset: number, buffer: Uint8Array, toDisk: boolean): void {
    let done = 0;
    while (done < buffer.length) {
      const pos = offset + done;
      const index = Math.floor(pos / this.#chunkBytes);
      const within = pos - index * this.#chunkBytes;
      const n = Math.min(this.#chunkBytes - within, buffer.length - done);
      let chunk = this.#chunks.get(index);
      if (toDisk) {
        if (!chunk) {
          chunk = new Uint8Array(this.#chunkBytes);
          this.#chunks.set(index, chunk);
        }
        chunk.set(buffer.subarray(done, done + n), within);
      } else if (chunk) {
        buffer.set(chunk.subarray(within, within + n), done);
      } else {
        buffer.fill(0, done, done + n);
      }
      done += n;
    }
  }
}

/** A new zero-filled in-memory disk. */
export function ramdisk(options: RamdiskOptions = {}): Ramdisk {
  return new Ramdisk(options);
}
