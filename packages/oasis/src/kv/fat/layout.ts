// The FAT boot sector (BPB), the FAT32 FSInfo sector, and making a fresh file system.
import type { Block } from "../../devices/block.ts";
import { randomUint32 } from "oasis/random";
import { BlockBytes } from "../block-bytes.ts";
import { put16, put32, u16, u32 } from "./dirent.ts";

export type FatType = 12 | 16 | 32;

export interface FatLayout {
  type: FatType;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  rootEntries: number;
  totalSectors: number;
  fatSectors: number;
  rootCluster: number;
  fsInfoSector: number;
  /** Derived. */
  rootDirSector: number;
  rootDirSectors: number;
  firstDataSector: number;
  clusterCount: number;
  clusterBytes: number;
}

export class FatFormatError extends Error {}

function deriveLayout(l: Omit<FatLayout, "type" | "rootDirSector" | "rootDirSectors" | "firstDataSector" | "clusterCount" | "clusterBytes">, fat32: boolean): FatLayout {
  const rootDirSectors = Math.ceil((l.rootEntries * 32) / l.bytesPerSector);
  const rootDirSector = l.reservedSectors + l.numFats * l.fatSectors;
  const firstDataSector = rootDirSector + rootDirSectors;
  const clusterCount = Math.floor((l.totalSectors - firstDataSector) / l.sectorsPerCluster);
  // The FAT type follows from the cluster count alone (Microsoft's FAT specification).
  const type: FatType = clusterCount < 4085 ? 12 : clusterCount < 65525 && !fat32 ? 16 : 32;
  return { ...l, type, rootDirSector, rootDirSectors, firstDataSector, clusterCount, clusterBytes: l.bytesPerSector * l.sectorsPerCluster };
}

/** Parses and checks the boot sector; the error says what is wrong and suggests mkfs.fat or formatFat. */
export function parseBootSector(b: Uint8Array, deviceBytes: number, where: string): FatLayout {
  const fail = (why: string) => new FatFormatError(`${where} does not hold a FAT file system: ${why}; make one with 'mkfs.fat' or formatFat()`);
  if (b[510] !== 0x55 || b[511] !== 0xaa) throw fail("no boot-sector signature 55 AA");
  const bytesPerSector = u16(b, 11);
  const sectorsPerCluster = b[13]!;
  const reservedSectors = u16(b, 14);
  const numFats = b[16]!;
  const rootEntries = u16(b, 17);
  const totalSectors = u16(b, 19) || u32(b, 32);
  const fat16Size = u16(b, 22);
  const fatSectors = fat16Size || u32(b, 36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw fail(`bytes per sector is ${bytesPerSector}`);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) throw fail(`sectors per cluster is ${sectorsPerCluster}`);
  if (reservedSectors === 0 || numFats === 0 || fatSectors === 0 || totalSectors === 0) throw fail("the BPB has zero fields");
  if (totalSectors * bytesPerSector > deviceBytes) throw fail(`it claims ${totalSectors * bytesPerSector} bytes but the device has ${deviceBytes}`);
  const l = deriveLayout(
    { bytesPerSector, sectorsPerCluster, reservedSectors, numFats, rootEntries, totalSectors, fatSectors, rootCluster: fat16Size === 0 ? u32(b, 44) : 0, fsInfoSector: fat16Size === 0 ? u16(b, 48) : 0 },
    fat16Size === 0,
  );
  if (l.clusterCount <= 0 || l.firstDataSector >= totalSectors) throw fail("no data clusters");
  const entryBits = l.type === 12 ? 12 : l.type === 16 ? 16 : 32;
  if (Math.ceil(((l.clusterCount + 2) * entryBits) / 8) > fatSectors * bytesPerSector) throw fail("the FAT is too small for the cluster count");
  if (l.type === 32 && (l.rootCluster < 2 || l.rootCluster >= l.clusterCount + 2)) throw fail(`the root cluster ${l.rootCluster} is out of range`);
  if (l.type !== 32 && rootEntries === 0) throw fail("FAT12/16 without root directory entries");
  return l;
}

export interface FormatOptions {
  /** Default: chosen from the size like mkfs.fat (FAT12 up to a few MiB, FAT16 up to 512 MiB, then FAT32). */
  type?: FatType;
  /** Sectors per cluster (power of two); default: the smallest that gives a valid cluster count. */
  sectorsPerCluster?: number;
  /** Volume label, up to 11 characters. */
  label?: string;
  /** Volume serial number; default random. */
  volumeId?: number;
}

function planLayout(totalSectors: number, ss: number, type: FatType, spc: number): FatLayout {
  const reservedSectors = type === 32 ? 32 : 1;
  const rootEntries = type === 32 ? 0 : type === 12 && totalSectors * ss <= 2 * 1024 * 1024 ? 224 : 512;
  let fatSectors = 1;
  for (;;) {
    const rootDirSectors = Math.ceil((rootEntries * 32) / ss);
    const clusters = Math.floor((totalSectors - reservedSectors - 2 * fatSectors - rootDirSectors) / spc);
    const needed = Math.ceil((Math.max(clusters, 0) + 2) * (type === 12 ? 1.5 : type === 16 ? 2 : 4) / ss);
    if (needed <= fatSectors) break;
    fatSectors = needed;
  }
  return deriveLayout({ bytesPerSector: ss, sectorsPerCluster: spc, reservedSectors, numFats: 2, rootEntries, totalSectors, fatSectors, rootCluster: type === 32 ? 2 : 0, fsInfoSector: type === 32 ? 1 : 0 }, type === 32);
}

const LIMITS: Record<FatType, [number, number]> = { 12: [1, 4084], 16: [4085, 65524], 32: [65525, 0x0ffffff5] };

function chooseLayout(totalSectors: number, ss: number, opts: FormatOptions): FatLayout {
  const bytes = totalSectors * ss;
  const types: FatType[] = opts.type ? [opts.type] : bytes <= 16 * 1024 * 1024 ? [12, 16] : bytes <= 512 * 1024 * 1024 ? [16, 32] : [32];
  for (const type of types) {
    const spcs = opts.sectorsPerCluster ? [opts.sectorsPerCluster] : [1, 2, 4, 8, 16, 32, 64, 128].filter((s) => s * ss <= 32768);
    for (const spc of spcs) {
      const l = planLayout(totalSectors, ss, type, spc);
      const [lo, hi] = LIMITS[type];
      if (l.clusterCount >= lo && l.clusterCount <= hi && l.type === type) return l;
    }
  }
  const want = opts.type ? `FAT${opts.type}` : "FAT";
  throw new FatFormatError(`cannot make ${want} on ${bytes} bytes with ${ss}-byte sectors${opts.sectorsPerCluster ? ` and ${opts.sectorsPerCluster} sectors per cluster` : ""}: the cluster count falls outside what ${want} allows (FAT12 < 4085 ≤ FAT16 < 65525 ≤ FAT32 clusters); choose another type, cluster size or disk size`);
}

export function fatEntryEnd(type: FatType): number {
  return type === 12 ? 0xfff : type === 16 ? 0xffff : 0x0fffffff;
}

/** Makes a fresh, empty FAT file system on `block` (everything on it is lost). */
export async function formatFat(block: Block, opts: FormatOptions = {}): Promise<FatLayout> {
  const dev = await BlockBytes.open(block);
  if (!dev.readWrite) throw new FatFormatError("cannot format a read-only block device");
  const ss = dev.sectorSize;
  const totalSectors = Math.min(Math.floor(dev.sizeBytes / ss), 0xffffffff);
  const l = chooseLayout(totalSectors, ss, opts);
  const label = (opts.label ?? "NO NAME").toUpperCase().padEnd(11, " ");
  if (!/^[A-Z0-9 !#$%&'()\-@^_`{}~]{11}$/.test(label)) throw new FatFormatError(`volume label ${JSON.stringify(opts.label)} must be at most 11 letters, digits, spaces or ! # $ % & ' ( ) - @ ^ _ \` { } ~`);
  const volumeId = opts.volumeId ?? randomUint32();

  const boot = new Uint8Array(ss);
  boot.set(l.type === 32 ? [0xeb, 0x58, 0x90] : [0xeb, 0x3c, 0x90], 0);
  boot.set(new TextEncoder().encode("OASIS1.0"), 3);
  put16(boot, 11, ss);
  boot[13] = l.sectorsPerCluster;
  put16(boot, 14, l.reservedSectors);
  boot[16] = l.numFats;
  put16(boot, 17, l.rootEntries);
  if (l.type !== 32 && totalSectors < 0x10000) put16(boot, 19, totalSectors);
  else put32(boot, 32, totalSectors);
  boot[21] = 0xf8;
  if (l.type !== 32) put16(boot, 22, l.fatSectors);
  put16(boot, 24, 32);
  put16(boot, 26, 64);
  const ext = l.type === 32 ? 64 : 36;
  if (l.type === 32) {
    put32(boot, 36, l.fatSectors);
    put32(boot, 44, l.rootCluster);
    put16(boot, 48, 1);
    put16(boot, 50, 6);
  }
  boot[ext] = 0x80;
  boot[ext + 2] = 0x29;
  put32(boot, ext + 3, volumeId);
  boot.set(new TextEncoder().encode(label), ext + 7);
  boot.set(new TextEncoder().encode(l.type === 32 ? "FAT32   " : l.type === 16 ? "FAT16   " : "FAT12   "), ext + 18);
  // Not bootable: a tiny loop where boot code would be.
  boot.set(l.type === 32 ? [0xeb, 0xfe] : [0xeb, 0xfe], ext + 26);
  boot[510] = 0x55;
  boot[511] = 0xaa;

  // Zero the metadata area (reserved sectors, FATs, fixed root or the FAT32 root cluster).
  const metaEnd = l.type === 32 ? l.firstDataSector + l.sectorsPerCluster : l.firstDataSector;
  const chunk = new Uint8Array(Math.min(metaEnd, 256) * ss);
  for (let s = 0; s < metaEnd; s += chunk.length / ss) await dev.write(s * ss, chunk.subarray(0, Math.min(chunk.length, (metaEnd - s) * ss)));

  const fatStart = new Uint8Array(ss);
  const end = fatEntryEnd(l.type);
  if (l.type === 12) fatStart.set([0xf8, 0xff, 0xff]);
  else if (l.type === 16) put32(fatStart, 0, 0xfffffff8 >>> 0);
  else {
    put32(fatStart, 0, 0x0ffffff8);
    put32(fatStart, 4, end);
    put32(fatStart, 8, end); // the root directory's single cluster
  }
  for (let i = 0; i < l.numFats; i++) await dev.write((l.reservedSectors + i * l.fatSectors) * ss, fatStart);
  if (l.type === 32) {
    const info = fsInfoSector(ss, l.clusterCount - 1, 3);
    await dev.write(ss, info);
    await dev.write(6 * ss, boot);
    await dev.write(7 * ss, info);
    const sig = new Uint8Array(ss);
    sig[510] = 0x55;
    sig[511] = 0xaa;
    await dev.write(2 * ss, sig);
    await dev.write(8 * ss, sig);
  }
  if (opts.label !== undefined && label !== "NO NAME    ") {
    // fsck.fat expects a label in the boot sector to be repeated as the root's volume entry.
    const entry = new Uint8Array(32);
    entry.set(new TextEncoder().encode(label), 0);
    entry[11] = 0x08;
    const rootAt = l.type === 32 ? l.firstDataSector * ss : l.rootDirSector * ss;
    await dev.write(rootAt, entry);
  }
  await dev.write(0, boot);
  await dev.flush();
  return l;
}

export function fsInfoSector(ss: number, freeCount: number, nextFree: number): Uint8Array {
  const b = new Uint8Array(ss);
  put32(b, 0, 0x41615252);
  put32(b, 484, 0x61417272);
  put32(b, 488, freeCount);
  put32(b, 492, nextFree);
  put32(b, 508, 0xaa550000);
  return b;
}
