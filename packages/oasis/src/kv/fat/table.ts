// The file allocation table, held in memory as on disk (raw bytes) so FAT12's 1.5-byte entries
// need no translation; changed sectors are written to every FAT copy on commit.
import type { BlockBytes } from "../block-bytes.ts";
import type { FatLayout } from "./layout.ts";
import { fsInfoSector } from "./layout.ts";
import { u32 } from "./dirent.ts";

export const FREE = 0;

export class FatTable {
  private readonly dirty = new Set<number>();
  private freeCount: number;
  private nextFree = 2;

  private constructor(
    private readonly dev: BlockBytes,
    readonly layout: FatLayout,
    private readonly bytes: Uint8Array,
  ) {
    let free = 0;
    for (let c = 2; c < layout.clusterCount + 2; c++) if (this.get(c) === FREE) free++;
    this.freeCount = free;
  }

  static async load(dev: BlockBytes, layout: FatLayout): Promise<FatTable> {
    const bytes = await dev.read(layout.reservedSectors * layout.bytesPerSector, layout.fatSectors * layout.bytesPerSector);
    return new FatTable(dev, layout, bytes.slice());
  }

  get free(): number {
    return this.freeCount;
  }

  /** The end-of-chain value written by us; any value ≥ endMin also ends a chain. */
  get end(): number {
    return this.layout.type === 12 ? 0xfff : this.layout.type === 16 ? 0xffff : 0x0fffffff;
  }
  private get endMin(): number {
    return this.layout.type === 12 ? 0xff8 : this.layout.type === 16 ? 0xfff8 : 0x0ffffff8;
  }

  get(c: number): number {
    const b = this.bytes;
    switch (this.layout.type) {
      case 12: {
        const at = c + (c >> 1);
        const v = b[at]! | (b[at + 1]! << 8);
        return c & 1 ? v >> 4 : v & 0xfff;
      }
      case 16:
        return b[c * 2]! | (b[c * 2 + 1]! << 8);
      case 32:
        return u32(b, c * 4) & 0x0fffffff;
    }
  }

  set(c: number, value: number): void {
    const b = this.bytes;
    const wasFree = this.get(c) === FREE;
    let at: number;
    let len: number;
    switch (this.layout.type) {
      case 12: {
        at = c + (c >> 1);
        len = 2;
        if (c & 1) {
          b[at] = (b[at]! & 0x0f) | ((value << 4) & 0xf0);
          b[at + 1] = (value >> 4) & 0xff;
        } else {
          b[at] = value & 0xff;
          b[at + 1] = (b[at + 1]! & 0xf0) | ((value >> 8) & 0x0f);
        }
        break;
      }
      case 16:
        at = c * 2;
        len = 2;
        b[at] = value & 0xff;
        b[at + 1] = (value >> 8) & 0xff;
        break;
      case 32: {
        at = c * 4;
        len = 4;
        const v = ((b[at + 3]! & 0xf0) << 24) | (value & 0x0fffffff); // the top 4 bits are reserved
        b[at] = v & 0xff;
        b[at + 1] = (v >>> 8) & 0xff;
        b[at + 2] = (v >>> 16) & 0xff;
        b[at + 3] = (v >>> 24) & 0xff;
        break;
      }
    }
    const ss = this.layout.bytesPerSector;
    this.dirty.add(Math.floor(at / ss));
    this.dirty.add(Math.floor((at + len - 1) / ss));
    const isFree = value === FREE;
    if (wasFree && !isFree) this.freeCount--;
    if (!wasFree && isFree) this.freeCount++;
  }

  isEnd(v: number): boolean {
    return v >= this.endMin;
  }

  validCluster(c: number): boolean {
    return c >= 2 && c < this.layout.clusterCount + 2;
  }

  /** The clusters of the chain starting at `first`; null when it is broken (loop, free or out-of-range link). */
  chain(first: number): number[] | null {
    const out: number[] = [];
    if (first === 0) return out;
    let c = first;
    const limit = this.layout.clusterCount;
    while (true) {
      if (!this.validCluster(c) || out.length > limit) return null;
      out.push(c);
      const next = this.get(c);
      if (this.isEnd(next)) return out;
      if (next === FREE || next === (this.layout.type === 12 ? 0xff7 : this.layout.type === 16 ? 0xfff7 : 0x0ffffff7)) return null;
      c = next;
    }
  }

  /** Takes `n` free clusters (not yet linked); null when there are not enough. */
  allocate(n: number): number[] | null {
    if (n > this.freeCount) return null;
    const out: number[] = [];
    const total = this.layout.clusterCount;
    let c = this.nextFree;
    for (let scanned = 0; out.length < n && scanned < total; scanned++) {
      if (!this.validCluster(c)) c = 2;
      if (this.get(c) === FREE) out.push(c);
      c++;
    }
    if (out.length < n) return null;
    this.nextFree = c;
    return out;
  }

  /** Links `clusters` in order, ending the chain; `after` (if any) is made to point at the first. */
  link(clusters: readonly number[], after?: number): void {
    for (let i = 0; i < clusters.length; i++) this.set(clusters[i]!, i + 1 < clusters.length ? clusters[i + 1]! : this.end);
    if (after !== undefined && clusters.length > 0) this.set(after, clusters[0]!);
  }

  release(clusters: readonly number[]): void {
    for (const c of clusters) this.set(c, FREE);
  }

  /** Writes changed FAT sectors to every copy (and FSInfo on FAT32). */
  async commit(): Promise<void> {
    if (this.dirty.size === 0) return;
    const l = this.layout;
    const ss = l.bytesPerSector;
    const sectors = [...this.dirty].sort((a, b) => a - b);
    this.dirty.clear();
    for (let copy = 0; copy < l.numFats; copy++) {
      const base = (l.reservedSectors + copy * l.fatSectors) * ss;
      // Consecutive dirty sectors go out in one write.
      for (let i = 0; i < sectors.length; ) {
        let j = i;
        while (j + 1 < sectors.length && sectors[j + 1] === sectors[j]! + 1) j++;
        await this.dev.write(base + sectors[i]! * ss, this.bytes.subarray(sectors[i]! * ss, (sectors[j]! + 1) * ss));
        i = j + 1;
      }
    }
    if (l.type === 32 && l.fsInfoSector > 0 && l.fsInfoSector < l.reservedSectors) {
      await this.dev.write(l.fsInfoSector * ss, fsInfoSector(ss, this.freeCount, this.nextFree));
    }
  }
}
