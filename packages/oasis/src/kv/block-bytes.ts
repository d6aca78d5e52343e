// Byte-addressed access to a Block: stores think in bytes (tar records, FAT clusters), blocks in
// sectors. Partial sectors are read, patched and written back.
import type { Block } from "../devices/block.ts";

export class BlockBytes {
  private constructor(
    readonly block: Block,
    readonly sectorSize: number,
    readonly sizeBytes: number,
    readonly readWrite: boolean,
  ) {}

  static async open(block: Block): Promise<BlockBytes> {
    const info = await block.info();
    return new BlockBytes(block, info.sectorSize, info.sectorSize * info.sizeSectors, info.readWrite);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const ss = this.sectorSize;
    const first = Math.floor(offset / ss);
    const last = Math.floor((offset + length - 1) / ss);
    const buf = new Uint8Array((last - first + 1) * ss);
    await this.block.read(first, buf);
    const start = offset - first * ss;
    return start === 0 && length === buf.length ? buf : buf.subarray(start, start + length);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const ss = this.sectorSize;
    const first = Math.floor(offset / ss);
    const last = Math.floor((offset + data.length - 1) / ss);
    const start = offset - first * ss;
    if (start === 0 && data.length % ss === 0) return this.block.write(first, data);
    const buf = new Uint8Array((last - first + 1) * ss);
    const end = start + data.length;
    // Only the edge sectors hold bytes we must keep.
    const headPartial = start !== 0 || (first === last && end % ss !== 0);
    if (headPartial) await this.block.read(first, buf.subarray(0, ss));
    if (last !== first && end % ss !== 0) await this.block.read(last, buf.subarray(buf.length - ss));
    buf.set(data, start);
    await this.block.write(first, buf);
  }

  flush(): Promise<void> {
    return this.block.flush();
  }
}
