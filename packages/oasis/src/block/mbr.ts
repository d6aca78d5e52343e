// Master Boot Record partition tables: four primary slots in sector 0, and extended partitions
// holding a chain of Extended Boot Records (one logical partition each).
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { fillRandom } from "oasis/random";
import { checkNoOverlap, makeTable, PartitionTableError, type PartitionEntry, type PartitionTable } from "./table.ts";

const TABLE_OFFSET = 446;
const ENTRY_SIZE = 16;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
/** Longer EBR chains than this are treated as corrupt (Linux stops far earlier in practice). */
const MAX_LOGICAL = 1024;

export const MBR_TYPE_NAMES: Record<number, string> = {
  0x01: "fat12",
  0x04: "fat16-small",
  0x05: "extended",
  0x06: "fat16",
  0x07: "ntfs/exfat",
  0x0b: "fat32-chs",
  0x0c: "fat32",
  0x0e: "fat16-lba",
  0x0f: "extended-lba",
  0x82: "linux-swap",
  0x83: "linux",
  0x85: "linux-extended",
  0x8e: "linux-lvm",
  0xda: "non-fs-data",
  0xee: "gpt-protective",
  0xef: "efi",
  0xfd: "linux-raid",
};

interface RawEntry {
  status: number;
  type: number;
  lbaStart: number;
  sectors: number;
}

function rawEntry(sector: Uint8Array, slot: number): RawEntry {
  const o = TABLE_OFFSET + slot * ENTRY_SIZE;
  const v = new DataView(sector.buffer, sector.byteOffset, sector.byteLength);
  return { status: sector[o]!, type: sector[o + 4]!, lbaStart: v.getUint32(o + 8, true), sectors: v.getUint32(o + 12, true) };
}

function hasSignature(sector: Uint8Array): boolean {
  return sector[510] === 0x55 && sector[511] === 0xaa;
}

async function readSector(disk: Block, sectorSize: number, lba: number): Promise<Uint8Array> {
  const buf = new Uint8Array(sectorSize);
  await disk.read(lba, buf);
  return buf;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** Reads the MBR (and any EBR chain) of `disk`; malformed tables fail with a message naming the problem. */
export async function readMbr(disk: Block): Promise<PartitionTable> {
  const info = await disk.info();
  if (info.sizeSectors < 1) throw new PartitionTableError("MBR: the disk is empty (0 sectors)");
  const mbr = await readSector(disk, info.sectorSize, 0);
  if (!hasSignature(mbr)) {
    throw new PartitionTableError(`MBR: no boot signature 55 AA at bytes 510-511 of sector 0 (found ${hex2(mbr[510]!)} ${hex2(mbr[511]!)}); the disk has no MBR partition table`);
  }
  const diskId = new DataView(mbr.buffer).getUint32(440, true).toString(16).padStart(8, "0");
  const entries: PartitionEntry[] = [];
  const warnings: string[] = [];
  let extended: { start: number; size: number; number: number } | undefined;
  const where = (what: string) => `MBR ${what}`;

  for (let slot = 0; slot < 4; slot++) {
    const e = rawEntry(mbr, slot);
    if (e.type === 0 || e.sectors === 0) continue;
    const number = slot + 1;
    if (e.status !== 0 && e.status !== 0x80) {
      throw new PartitionTableError(`${where(`partition ${number}`)}: status byte 0x${hex2(e.status)} is neither 0x00 nor 0x80; the table is corrupt`);
    }
    if (e.lbaStart === 0) throw new PartitionTableError(`${where(`partition ${number}`)}: starts at sector 0, which holds the MBR itself`);
    if (e.lbaStart + e.sectors > info.sizeSectors) {
      // A protective MBR may claim 0xFFFFFFFF sectors on a smaller disk: that one is allowed.
      if (e.type !== 0xee) {
        throw new PartitionTableError(
          `${where(`partition ${number}`)}: sectors ${e.lbaStart}..${e.lbaStart + e.sectors - 1} extend past the end of the disk (${info.sizeSectors} sectors)`,
        );
      }
    }
    const isExtended = EXTENDED_TYPES.has(e.type);
    if (isExtended) {
      if (extended) throw new PartitionTableError(`MBR: partitions ${extended.number} and ${number} are both extended; only one is allowed`);
      extended = { start: e.lbaStart, size: e.sectors, number };
    }
    if (e.type === 0xee) warnings.push("MBR: this is a GPT protective MBR; read the disk with readGpt");
    entries.push({
      number,
      start: e.lbaStart,
      sizeSectors: e.type === 0xee ? Math.min(e.sectors, info.sizeSectors - e.lbaStart) : e.sectors,
      type: hex2(e.type),
      typeName: MBR_TYPE_NAMES[e.type] ?? "",
      name: "",
      guid: "",
      attributes: e.status === 0x80 ? 4n : 0n,
      kind: isExtended ? "extended" : "primary",
      bootable: e.status === 0x80,
    });
  }
  checkNoOverlap("MBR", entries);

  if (extended) {
    const ext = extended;
    const seen = new Set<number>();
    let ebrLba = ext.start;
    let number = 5;
    while (true) {
      if (seen.has(ebrLba)) throw new PartitionTableError(`MBR: the chain of extended boot records loops back to sector ${ebrLba}; the table is corrupt`);
      if (seen.size >= MAX_LOGICAL) throw new PartitionTableError(`MBR: more than ${MAX_LOGICAL} logical partitions; the chain is probably corrupt`);
      seen.add(ebrLba);
      const ebr = await readSector(disk, info.sectorSize, ebrLba);
      if (!hasSignature(ebr)) {
        // An extended partition with no valid first EBR has no logical partitions (as sfdisk creates it).
        if (ebrLba === ext.start) break;
        throw new PartitionTableError(`MBR: extended boot record at sector ${ebrLba} has no 55 AA signature; the logical partition chain is broken`);
      }
      const logical = rawEntry(ebr, 0);
      const next = rawEntry(ebr, 1);
      if (logical.type !== 0 && logical.sectors !== 0) {
        const start = ebrLba + logical.lbaStart;
        if (logical.lbaStart === 0 || start + logical.sectors > ext.start + ext.size) {
          throw new PartitionTableError(
            `MBR logical partition ${number} (EBR at sector ${ebrLba}): sectors ${start}..${start + logical.sectors - 1} are not inside the extended partition (sectors ${ext.start}..${ext.start + ext.size - 1})`,
          );
        }
        entries.push({
          number: number++,
          start,
          sizeSectors: logical.sectors,
          type: hex2(logical.type),
          typeName: MBR_TYPE_NAMES[logical.type] ?? "",
          name: "",
          guid: "",
          attributes: logical.status === 0x80 ? 4n : 0n,
          kind: "logical",
          bootable: logical.status === 0x80,
        });
      }
      if (next.type === 0 || next.sectors === 0) break;
      if (!EXTENDED_TYPES.has(next.type)) {
        throw new PartitionTableError(`MBR: extended boot record at sector ${ebrLba} links to a next record of type 0x${hex2(next.type)}, not an extended type`);
      }
      const nextLba = ext.start + next.lbaStart;
      if (next.lbaStart === 0 || nextLba >= ext.start + ext.size) {
        throw new PartitionTableError(`MBR: extended boot record at sector ${ebrLba} links to sector ${nextLba}, outside the extended partition`);
      }
      ebrLba = nextLba;
    }
    const logicals = entries.filter((e) => e.kind === "logical");
    checkNoOverlap("MBR", logicals.concat(entries.filter((e) => e.kind === "primary")));
    // Each EBR sector must not lie inside a logical partition.
    for (const lba of seen) {
      const hit = logicals.find((l) => lba >= l.start && lba < l.start + l.sizeSectors);
      if (hit) throw new PartitionTableError(`MBR: extended boot record at sector ${lba} lies inside logical partition ${hit.number}; the table is corrupt`);
    }
  }
  return makeTable("mbr", disk, diskId, entries, warnings);
}

export interface MbrPartitionSpec {
  /** First sector; default: the next 1 MiB boundary after the previous partition. */
  start?: number;
  /** Size in sectors; default: up to the end of the disk (last partition only). */
  sizeSectors?: number;
  /** Type byte (default 0x83, Linux). */
  type?: number;
  bootable?: boolean;
  /**
   * A logical partition, inside an extended partition that writeMbr creates around all of them
   * (they must be consecutive in the list). Each is preceded by its extended boot record: by
   * default one alignment unit before it, with an explicit start the sector just before it.
   */
  logical?: boolean;
}

// CHS fields for LBA-only partitions: the usual 255 heads × 63 sectors geometry, capped at 1023/254/63.
function chs(lba: number): [number, number, number] {
  const cylinder = Math.floor(lba / (255 * 63));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / 63) % 255;
  const sector = (lba % 63) + 1;
  return [head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff];
}

/** Writes one 16-byte MBR partition entry; the LBA field is stored relative to `base` (EBR links). */
export function encodeMbrEntry(out: Uint8Array, slot: number, e: { bootable?: boolean; type: number; start: number; sizeSectors: number }, base = 0): void {
  const o = TABLE_OFFSET + slot * ENTRY_SIZE;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[o] = e.bootable ? 0x80 : 0;
  out.set(chs(e.start), o + 1);
  out[o + 4] = e.type;
  out.set(chs(e.start + e.sizeSectors - 1), o + 5);
  v.setUint32(o + 8, e.start - base, true);
  v.setUint32(o + 12, e.sizeSectors, true);
}

/**
 * Writes a new MBR: up to four primary partitions, or three and an extended partition holding any
 * number of logical ones. Keeps the boot code (bytes 0–439) of the existing sector 0. Returns the
 * table as read back.
 */
export async function writeMbr(disk: Block, partitions: MbrPartitionSpec[], options: { diskId?: number; alignment?: number } = {}): Promise<PartitionTable> {
  const info = await disk.info();
  if (!info.readWrite) throw new BlockError("read-only", "writeMbr: the disk is read-only");
  const align = options.alignment ?? Math.max(1, (1024 * 1024) / info.sectorSize);
  const limit = Math.min(info.sizeSectors, 2 ** 32);
  const fail = (msg: string) => new BlockError("out-of-range", `writeMbr: ${msg}`);
  type Placed = { number: number; start: number; sizeSectors: number; type: number; bootable: boolean; ebr: number };
  const primaries: Placed[] = [];
  const logicals: Placed[] = [];
  const primaryCount = partitions.filter((p) => !p.logical).length;
  const hasLogical = partitions.some((p) => p.logical);
  if (primaryCount + (hasLogical ? 1 : 0) > 4) {
    throw fail(`${primaryCount} primary partitions${hasLogical ? " and an extended one" : ""}: an MBR has 4 slots (use logical partitions or writeGpt for more)`);
  }
  let extendedSlot = -1;
  let next = align;
  partitions.forEach((p, i) => {
    const last = i === partitions.length - 1;
    let ebr = -1;
    let start: number;
    let number: number;
    if (p.logical) {
      if (logicals.length > 0 && !partitions[i - 1]!.logical) throw fail(`logical partitions must be consecutive in the list (entry ${i + 1} is not)`);
      if (logicals.length === 0) extendedSlot = primaries.length;
      number = 5 + logicals.length;
      if (p.start !== undefined) {
        start = p.start;
        ebr = start - 1;
      } else {
        ebr = Math.ceil(next / align) * align;
        start = ebr + align;
      }
      if (ebr < next || ebr < 1) throw fail(`no room for the extended boot record before logical partition ${number} (sector ${ebr} is in use)`);
    } else {
      number = primaries.length + (extendedSlot >= 0 ? 2 : 1);
      start = p.start ?? Math.ceil(next / align) * align;
    }
    const sizeSectors = p.sizeSectors ?? (last ? limit - start : NaN);
    if (!Number.isSafeInteger(sizeSectors)) throw fail(`partition ${number} needs a size (only the last one may default to the rest of the disk)`);
    if (!Number.isSafeInteger(start) || start < 1 || sizeSectors < 1 || start + sizeSectors > limit) {
      throw fail(
        `partition ${number} (sectors ${start}..${start + sizeSectors - 1}) does not fit between sector 1 and ${limit - 1}` +
          (info.sizeSectors > 2 ** 32 ? " (an MBR addresses at most 2^32 sectors)" : ""),
      );
    }
    const type = p.type ?? 0x83;
    if (!Number.isInteger(type) || type < 1 || type > 255 || EXTENDED_TYPES.has(type)) {
      throw fail(`partition ${number}: type ${type} must be a byte 1..255 and not an extended type (use logical: true for logical partitions)`);
    }
    (p.logical ? logicals : primaries).push({ number, start, sizeSectors, type, bootable: p.bootable ?? false, ebr });
    next = start + sizeSectors;
  });

  const slotEntries: Placed[] = [...primaries];
  if (logicals.length > 0) {
    const first = logicals[0]!;
    const lastLogical = logicals[logicals.length - 1]!;
    const end = lastLogical.start + lastLogical.sizeSectors;
    slotEntries.splice(extendedSlot, 0, { number: extendedSlot + 1, start: first.ebr, sizeSectors: end - first.ebr, type: 0x05, bootable: false, ebr: -1 });
  }
  slotEntries.forEach((e, i) => (e.number = i + 1));
  try {
    checkNoOverlap("writeMbr", [...slotEntries, ...logicals.map((l) => ({ ...l, start: l.ebr, sizeSectors: l.start + l.sizeSectors - l.ebr }))].filter((e) => e.type !== 0x05));
    checkNoOverlap("writeMbr", slotEntries);
  } catch (e) {
    throw fail((e as Error).message.replace(/^writeMbr: /, ""));
  }

  // Extended boot records first, the MBR that points at them last.
  const extendedStart = logicals.length > 0 ? logicals[0]!.ebr : 0;
  for (let i = 0; i < logicals.length; i++) {
    const l = logicals[i]!;
    const ebr = new Uint8Array(info.sectorSize);
    encodeMbrEntry(ebr, 0, { bootable: l.bootable, type: l.type, start: l.start, sizeSectors: l.sizeSectors }, l.ebr);
    const following = logicals[i + 1];
    if (following) {
      encodeMbrEntry(ebr, 1, { type: 0x05, start: following.ebr, sizeSectors: following.start + following.sizeSectors - following.ebr }, extendedStart);
    }
    ebr[510] = 0x55;
    ebr[511] = 0xaa;
    await disk.write(l.ebr, ebr);
  }
  const sector = await readSector(disk, info.sectorSize, 0);
  sector.fill(0, 440, 512);
  const v = new DataView(sector.buffer);
  v.setUint32(440, options.diskId ?? new DataView(fillRandom(new Uint8Array(4)).buffer).getUint32(0), true);
  slotEntries.forEach((p, i) => encodeMbrEntry(sector, i, p));
  sector[510] = 0x55;
  sector[511] = 0xaa;
  await disk.write(0, sector);
  await disk.flush();
  return readMbr(disk);
}
