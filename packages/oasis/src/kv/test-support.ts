// Block wrappers for store tests: a power cut after a budget of sectors, and a write recorder.
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";

/** Lets `budget` sectors through, then writes a prefix of the next request and fails: a power cut. */
export class CutOff implements Block {
  constructor(
    private readonly inner: Block,
    private budget: number,
    private readonly sectorSize = 512,
  ) {}
  info() {
    return this.inner.info();
  }
  read(sector: number, buffer: Uint8Array) {
    return this.inner.read(sector, buffer);
  }
  async write(sector: number, buffer: Uint8Array) {
    const n = buffer.length / this.sectorSize;
    if (n <= this.budget) {
      this.budget -= n;
      return this.inner.write(sector, buffer);
    }
    if (this.budget > 0) await this.inner.write(sector, buffer.subarray(0, this.budget * this.sectorSize));
    this.budget = 0;
    throw new Error("power cut");
  }
  flush() {
    return this.inner.flush();
  }
  disconnect() {
    return this.inner.disconnect();
  }
}

/** Passes everything through and remembers each write's first sector and length in sectors. */
export class WriteRecorder implements Block {
  readonly writes: Array<{ sector: number; count: number }> = [];
  constructor(
    private readonly inner: Block,
    private readonly sectorSize = 512,
  ) {}
  info() {
    return this.inner.info();
  }
  read(sector: number, buffer: Uint8Array) {
    return this.inner.read(sector, buffer);
  }
  write(sector: number, buffer: Uint8Array) {
    this.writes.push({ sector, count: buffer.length / this.sectorSize });
    return this.inner.write(sector, buffer);
  }
  flush() {
    return this.inner.flush();
  }
  disconnect() {
    return this.inner.disconnect();
  }
}

/** Fails every read of the listed sectors with BlockError("io"), as a dying disk would. */
export class BadSectors implements Block {
  constructor(
    private readonly inner: Block,
    readonly bad: Set<number>,
  ) {}
  info() {
    return this.inner.info();
  }
  async read(sector: number, buffer: Uint8Array) {
    const n = buffer.length / (await this.inner.info()).sectorSize;
    for (let s = sector; s < sector + n; s++) if (this.bad.has(s)) throw new BlockError("io", `sector ${s} cannot be read (medium error)`);
    return this.inner.read(sector, buffer);
  }
  write(sector: number, buffer: Uint8Array) {
    return this.inner.write(sector, buffer);
  }
  flush() {
    return this.inner.flush();
  }
  disconnect() {
    return this.inner.disconnect();
  }
}
