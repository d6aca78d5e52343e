// A partition: a Block view of a contiguous range of a parent Block, with its own bounds.
import type { Block, BlockInfo } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { checkIo, disconnectedError } from "./checks.ts";

export class PartitionBlock implements Block {
  #connected = true;

  /** `start` and `sizeSectors` are in the parent's sectors; the caller has checked they fit. */
  constructor(
    readonly parent: Block,
    readonly start: number,
    readonly sizeSectors: number,
    private readonly parentInfo: BlockInfo,
    readonly label: string,
  ) {}

  async info(): Promise<BlockInfo> {
    return { readWrite: this.parentInfo.readWrite, sectorSize: this.parentInfo.sectorSize, sizeSectors: this.sizeSectors };
  }

  async read(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.label, "read");
    checkIo(this.label, await this.info(), "read", sector, buffer);
    await this.parent.read(this.start + sector, buffer);
  }

  async write(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.label, "write");
    checkIo(this.label, await this.info(), "write", sector, buffer);
    await this.parent.write(this.start + sector, buffer);
  }

  async flush(): Promise<void> {
    if (!this.#connected) throw disconnectedError(this.label, "flush");
    await this.parent.flush();
  }

  /** Only this view stops working: the parent and sibling partitions stay connected. */
  async disconnect(): Promise<void> {
    this.#connected = false;
  }

  /** A nested view, in this partition's sectors. */
  async subpartition(start: number, sizeSectors: number, label = `${this.label}[${start}+${sizeSectors}]`): Promise<PartitionBlock> {
    return slice(this, start, sizeSectors, label);
  }
}

/** A view of sectors [start, start + sizeSectors) of `parent`; out-of-range bounds are refused. */
export async function slice(parent: Block, start: number, sizeSectors: number, label = `sectors ${start}+${sizeSectors}`): Promise<PartitionBlock> {
  const info = await parent.info();
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(sizeSectors) || start < 0 || sizeSectors < 0 || start + sizeSectors > info.sizeSectors) {
    throw new BlockError(
      "out-of-range",
      `${label}: sectors ${start}..${start + sizeSectors - 1} do not fit on a device of ${info.sizeSectors} sectors`,
    );
  }
  if (parent instanceof PartitionBlock) return new PartitionBlock(parent.parent, parent.start + start, sizeSectors, info, label);
  return new PartitionBlock(parent, start, sizeSectors, info, label);
}
