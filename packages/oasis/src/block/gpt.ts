// GUID Partition Tables (UEFI spec §5.3): protective MBR in sector 0, primary header in sector 1
// followed by the entry array, backup entry array and header at the end of the disk.
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { crc32 } from "./crc32.ts";
import { isGuid, randomGuid, readGuid, writeGuid, ZERO_GUID } from "./guid.ts";
import { encodeMbrEntry } from "./mbr.ts";
import { checkNoOverlap, makeTable, PartitionTableError, type PartitionEntry, type PartitionTable } from "./table.ts";

const SIGNATURE = "EFI PART";
const HEADER_SIZE = 92;
const REVISION = 0x00010000;
const DEFAULT_ENTRIES = 128;
const ENTRY_SIZE = 128;
/** More entries than this would be a multi-megabyte array: treated as corrupt. */
const MAX_ENTRIES = 16384;
/** Entry arrays larger than this (sgdisk's default is 16 KiB) are treated as corrupt. */
const MAX_ARRAY_BYTES = 1024 * 1024;

/** Partition type GUIDs by short name (for writing) and for naming types when listing. */
export const GPT_TYPES: Record<string, string> = {
  linux: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  efi: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  "basic-data": "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
  "linux-swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
  "linux-lvm": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
  "linux-raid": "A19D880F-05FC-4D3B-A006-743F0F84911E",
  "linux-home": "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
  "bios-boot": "21686148-6449-6E6F-744E-656564454649",
};
const TYPE_NAMES = new Map(Object.entries(GPT_TYPES).map(([k, v]) => [v, k]));

interface Header {
  currentLba: number;
  backupLba: number;
  firstUsable: number;
  lastUsable: number;
  diskGuid: string;
  entriesLba: number;
  entryCount: number;
  entrySize: number;
  entriesCrc: number;
}

function u64(v: DataView, o: number, what: string): number {
  const n = v.getBigUint64(o, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${n} is beyond any real disk`);
  return Number(n);
}

/** Validates the header in `sector` (read at `lba`); returns it or the reason it is unusable. */
function parseHeader(sector: Uint8Array, lba: number, sizeSectors: number): Header | string {
  const v = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  const sig = String.fromCharCode(...sector.subarray(0, 8));
  if (sig !== SIGNATURE) return `no "EFI PART" signature at sector ${lba}`;
  const size = v.getUint32(12, true);
  if (size < HEADER_SIZE || size > sector.length) return `header at sector ${lba} has an invalid size ${size}`;
  const stored = v.getUint32(16, true);
  const copy = sector.slice(0, size);
  copy.fill(0, 16, 20);
  const actual = crc32(copy);
  if (stored !== actual) return `header CRC32 mismatch at sector ${lba} (stored ${hex8(stored)}, computed ${hex8(actual)})`;
  try {
    const h: Header = {
      currentLba: u64(v, 24, "current LBA"),
      backupLba: u64(v, 32, "backup LBA"),
      firstUsable: u64(v, 40, "first usable LBA"),
      lastUsable: u64(v, 48, "last usable LBA"),
      diskGuid: readGuid(sector, 56),
      entriesLba: u64(v, 72, "entry array LBA"),
      entryCount: v.getUint32(80, true),
      entrySize: v.getUint32(84, true),
      entriesCrc: v.getUint32(88, true),
    };
    if (h.currentLba !== lba) return `header at sector ${lba} says it is at sector ${h.currentLba}`;
    if (h.entrySize < ENTRY_SIZE || h.entrySize % 8 !== 0 || h.entrySize > 4096) return `header at sector ${lba}: invalid entry size ${h.entrySize}`;
    if (h.entryCount > MAX_ENTRIES || h.entryCount * h.entrySize > MAX_ARRAY_BYTES) {
      return `header at sector ${lba}: ${h.entryCount} entries of ${h.entrySize} bytes is implausibly large`;
    }
    if (h.firstUsable > h.lastUsable + 1 || h.lastUsable >= sizeSectors) {
      return `header at sector ${lba}: usable range ${h.firstUsable}..${h.lastUsable} does not fit a disk of ${sizeSectors} sectors`;
    }
    const entrySectors = Math.ceil((h.entryCount * h.entrySize) / sector.length);
    if (h.entriesLba < 2 || h.entriesLba + entrySectors > sizeSectors) return `header at sector ${lba}: entry array at sector ${h.entriesLba} is outside the disk`;
    const overlapsUsable = h.entriesLba <= h.lastUsable && h.entriesLba + entrySectors > h.firstUsable;
    if (overlapsUsable && entrySectors > 0) return `header at sector ${lba}: entry array overlaps the usable sectors`;
    return h;
  } catch (e) {
    return `header at sector ${lba}: ${(e as Error).message}`;
  }
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

async function readEntries(disk: Block, h: Header, sectorSize: number): Promise<Uint8Array | string> {
  const bytes = h.entryCount * h.entrySize;
  const buf = new Uint8Array(Math.ceil(bytes / sectorSize) * sectorSize);
  await disk.read(h.entriesLba, buf);
  const array = buf.subarray(0, bytes);
  const actual = crc32(array);
  if (actual !== h.entriesCrc) return `entry array CRC32 mismatch at sector ${h.entriesLba} (stored ${hex8(h.entriesCrc)}, computed ${hex8(actual)})`;
  return array;
}

function decodeName(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const c = bytes[i]! | (bytes[i + 1]! << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function parseEntries(array: Uint8Array, h: Header): PartitionEntry[] {
  const v = new DataView(array.buffer, array.byteOffset, array.byteLength);
  const out: PartitionEntry[] = [];
  for (let i = 0; i < h.entryCount; i++) {
    const o = i * h.entrySize;
    const type = readGuid(array, o);
    if (type === ZERO_GUID) continue;
    const number = i + 1;
    const first = v.getBigUint64(o + 32, true);
    const last = v.getBigUint64(o + 40, true);
    if (last < first || first < BigInt(h.firstUsable) || last > BigInt(h.lastUsable)) {
      throw new PartitionTableError(
        `GPT partition ${number}: sectors ${first}..${last} are not inside the usable range ${h.firstUsable}..${h.lastUsable}; the table is corrupt`,
      );
    }
    out.push({
      number,
      start: Number(first),
      sizeSectors: Number(last - first) + 1,
      type,
      typeName: TYPE_NAMES.get(type) ?? "",
      name: decodeName(array.subarray(o + 56, o + 128)),
      guid: readGuid(array, o + 16),
      attributes: v.getBigUint64(o + 48, true),
    });
  }
  checkNoOverlap("GPT", out);
  return out;
}

export interface GptTable extends PartitionTable {
  /** Which header was used: "primary", or "backup" when the primary is damaged (see warnings). */
  readonly source: "primary" | "backup";
}

/**
 * Reads the GPT of `disk`: the primary header and entries, verified by their CRC32s, or, when
 * they are damaged, the backup at the end of the disk (reported in `warnings` and `source`).
 */
export async function readGpt(disk: Block): Promise<GptTable> {
  const info = await disk.info();
  const { sectorSize, sizeSectors } = info;
  if (sizeSectors < 3) throw new PartitionTableError(`GPT: the disk has only ${sizeSectors} sectors; too small for a GPT`);
  const warnings: string[] = [];
  const sector = (lba: number) => {
    const b = new Uint8Array(sectorSize);
    return disk.read(lba, b).then(() => b);
  };

  const mbr = await sector(0);
  const protective = mbr[510] === 0x55 && mbr[511] === 0xaa && [0, 1, 2, 3].some((s) => mbr[446 + s * 16 + 4] === 0xee);
  if (!protective) warnings.push("GPT: sector 0 holds no protective MBR (type 0xEE); other tools may not recognise the disk");

  const attempt = async (lba: number): Promise<{ h: Header; entries: PartitionEntry[] } | string> => {
    const h = parseHeader(await sector(lba), lba, sizeSectors);
    if (typeof h === "string") return h;
    const array = await readEntries(disk, h, sectorSize);
    if (typeof array === "string") return array;
    try {
      return { h, entries: parseEntries(array, h) };
    } catch (e) {
      return (e as Error).message;
    }
  };

  const primary = await attempt(1);
  let backupLba = sizeSectors - 1;
  if (typeof primary !== "string") {
    if (primary.h.backupLba !== sizeSectors - 1) {
      warnings.push(`GPT: primary header places the backup at sector ${primary.h.backupLba}, not at the last sector ${sizeSectors - 1} (disk resized?)`);
    }
    if (primary.h.backupLba > 1 && primary.h.backupLba < sizeSectors) backupLba = primary.h.backupLba;
  }
  const backup = await attempt(backupLba);

  if (typeof primary !== "string") {
    if (typeof backup === "string") warnings.push(`GPT: backup table is damaged (${backup}); rewrite the table to repair it`);
    return { ...makeTable("gpt", disk, primary.h.diskGuid, primary.entries, warnings), source: "primary" };
  }
  if (typeof backup !== "string") {
    warnings.push(`GPT: primary table is damaged (${primary}); using the backup at sector ${backupLba}`);
    return { ...makeTable("gpt", disk, backup.h.diskGuid, backup.entries, warnings), source: "backup" };
  }
  const mbrOnly = mbr[510] === 0x55 && mbr[511] === 0xaa && !protective && [0, 1, 2, 3].some((s) => mbr[446 + s * 16 + 4] !== 0);
  const hint = mbrOnly ? " (sector 0 holds an MBR partition table: read this disk with readMbr / mbr())" : "";
  throw new PartitionTableError(`GPT: no usable table: primary: ${primary}; backup: ${backup}${hint}`);
}

export interface GptPartitionSpec {
  /** Partition name, up to 36 UTF-16 code units. */
  name: string;
  /** Type GUID or a short name from GPT_TYPES (default "linux"). */
  type?: string;
  /** First sector; default: the next alignment boundary (1 MiB) after the previous partition. */
  start?: number;
  /** Size in sectors; default: the rest of the usable space (last partition only). */
  sizeSectors?: number;
  /** Unique partition GUID; default: random. */
  guid?: string;
  attributes?: bigint;
}

export interface GptWriteOptions {
  diskGuid?: string;
  /** Alignment of default start sectors, in sectors (default 1 MiB worth). */
  alignment?: number;
}

function resolveType(t: string | undefined, number: number): string {
  const type = t === undefined ? GPT_TYPES.linux! : (GPT_TYPES[t] ?? t);
  if (!isGuid(type) || type === ZERO_GUID) {
    throw new BlockError("out-of-range", `writeGpt: partition ${number}: type "${t}" is neither a GUID nor one of ${Object.keys(GPT_TYPES).join(", ")}`);
  }
  return type.toUpperCase();
}

function encodeHeader(h: Header, sectorSize: number): Uint8Array {
  const b = new Uint8Array(sectorSize);
  const v = new DataView(b.buffer);
  for (let i = 0; i < 8; i++) b[i] = SIGNATURE.charCodeAt(i);
  v.setUint32(8, REVISION, true);
  v.setUint32(12, HEADER_SIZE, true);
  v.setBigUint64(24, BigInt(h.currentLba), true);
  v.setBigUint64(32, BigInt(h.backupLba), true);
  v.setBigUint64(40, BigInt(h.firstUsable), true);
  v.setBigUint64(48, BigInt(h.lastUsable), true);
  writeGuid(h.diskGuid, b, 56);
  v.setBigUint64(72, BigInt(h.entriesLba), true);
  v.setUint32(80, h.entryCount, true);
  v.setUint32(84, h.entrySize, true);
  v.setUint32(88, h.entriesCrc, true);
  v.setUint32(16, crc32(b.subarray(0, HEADER_SIZE)), true);
  return b;
}

/**
 * Writes a new GPT: protective MBR, primary header and entries, backup entries and header.
 * Partitions are placed in order; the table is read back and returned.
 */
export async function writeGpt(disk: Block, partitions: GptPartitionSpec[], options: GptWriteOptions = {}): Promise<GptTable> {
  const { sectorSize, sizeSectors, readWrite } = await disk.info();
  if (!readWrite) throw new BlockError("read-only", "writeGpt: the disk is read-only");
  if (partitions.length > DEFAULT_ENTRIES) throw new BlockError("out-of-range", `writeGpt: ${partitions.length} partitions; at most ${DEFAULT_ENTRIES} are supported`);
  const entrySectors = Math.ceil((DEFAULT_ENTRIES * ENTRY_SIZE) / sectorSize);
  const firstUsable = 2 + entrySectors;
  const lastUsable = sizeSectors - 2 - entrySectors;
  if (lastUsable < firstUsable) {
    throw new BlockError("out-of-range", `writeGpt: a disk of ${sizeSectors} sectors is too small for a GPT (needs at least ${2 * firstUsable - 1} sectors)`);
  }
  const align = options.alignment ?? Math.max(1, (1024 * 1024) / sectorSize);
  const array = new Uint8Array(DEFAULT_ENTRIES * ENTRY_SIZE);
  const av = new DataView(array.buffer);
  const placed: { number: number; start: number; sizeSectors: number }[] = [];
  let next = firstUsable;
  partitions.forEach((p, i) => {
    const number = i + 1;
    let start = p.start;
    if (start === undefined) {
      start = Math.ceil(next / align) * align;
      // Small disks: fall back to the first free sector rather than failing on alignment.
      if (start > lastUsable) start = next;
    }
    const last = i === partitions.length - 1;
    const size = p.sizeSectors ?? (last ? lastUsable - start + 1 : NaN);
    if (!Number.isSafeInteger(size)) throw new BlockError("out-of-range", `writeGpt: partition ${number} "${p.name}" needs a size (only the last one may default to the rest of the disk)`);
    if (!Number.isSafeInteger(start) || size < 1 || start < firstUsable || start + size - 1 > lastUsable) {
      throw new BlockError(
        "out-of-range",
        `writeGpt: partition ${number} "${p.name}" (sectors ${start}..${start + size - 1}) is outside the usable sectors ${firstUsable}..${lastUsable}`,
      );
    }
    if (p.name.length > 36) throw new BlockError("out-of-range", `writeGpt: partition ${number} name "${p.name}" is longer than 36 characters`);
    const guid = p.guid ?? randomGuid();
    if (!isGuid(guid)) throw new BlockError("out-of-range", `writeGpt: partition ${number}: "${guid}" is not a GUID`);
    const o = i * ENTRY_SIZE;
    writeGuid(resolveType(p.type, number), array, o);
    writeGuid(guid, array, o + 16);
    av.setBigUint64(o + 32, BigInt(start), true);
    av.setBigUint64(o + 40, BigInt(start + size - 1), true);
    av.setBigUint64(o + 48, p.attributes ?? 0n, true);
    for (let k = 0; k < p.name.length; k++) av.setUint16(o + 56 + k * 2, p.name.charCodeAt(k), true);
    placed.push({ number, start, sizeSectors: size });
    next = start + size;
  });
  try {
    checkNoOverlap("writeGpt", placed);
  } catch (e) {
    throw new BlockError("out-of-range", (e as Error).message);
  }
  const diskGuid = options.diskGuid ?? randomGuid();
  if (!isGuid(diskGuid)) throw new BlockError("out-of-range", `writeGpt: disk GUID "${diskGuid}" is not a GUID`);
  const entriesCrc = crc32(array);
  const common = { firstUsable, lastUsable, diskGuid, entryCount: DEFAULT_ENTRIES, entrySize: ENTRY_SIZE, entriesCrc };
  const backupLba = sizeSectors - 1;
  const entriesPadded = new Uint8Array(entrySectors * sectorSize);
  entriesPadded.set(array);

  // Backup first: a crash midway leaves the old primary or the new backup, never neither.
  await disk.write(backupLba - entrySectors, entriesPadded);
  await disk.write(backupLba, encodeHeader({ ...common, currentLba: backupLba, backupLba: 1, entriesLba: backupLba - entrySectors }, sectorSize));
  await disk.flush();
  await disk.write(2, entriesPadded);
  await disk.write(1, encodeHeader({ ...common, currentLba: 1, backupLba, entriesLba: 2 }, sectorSize));

  const mbr = new Uint8Array(sectorSize);
  await disk.read(0, mbr);
  mbr.fill(0, 440, 512);
  encodeMbrEntry(mbr, 0, { type: 0xee, start: 1, sizeSectors: Math.min(sizeSectors - 1, 0xffffffff) });
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  await disk.write(0, mbr);
  await disk.flush();
  return readGpt(disk);
}
