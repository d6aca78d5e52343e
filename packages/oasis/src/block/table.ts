// What MBR and GPT readers return: the partitions of a disk, each obtainable as a Block.
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { PartitionBlock } from "./partition.ts";

export interface PartitionEntry {
  /** 1-based, as Linux numbers them (sda1…): GPT entry index + 1; MBR slot 1–4, logical from 5. */
  number: number;
  /** First sector (in the disk's sectors). */
  start: number;
  sizeSectors: number;
  /** GPT: the type GUID; MBR: the type byte as two hex digits ("83"). */
  type: string;
  /** A readable name for the type when known ("linux", "efi", …), else "". */
  typeName: string;
  /** GPT partition name ("" for MBR). */
  name: string;
  /** GPT unique partition GUID ("" for MBR). */
  guid: string;
  /** GPT attribute bits as a bigint; MBR: 0x80 flag as bit 2 ("legacy BIOS bootable"), like GPT. */
  attributes: bigint;
  /** MBR only: "primary", "extended" or "logical". */
  kind?: "primary" | "extended" | "logical";
  bootable?: boolean;
}

export interface PartitionTable {
  readonly scheme: "mbr" | "gpt";
  /** GPT: disk GUID; MBR: disk signature as 8 hex digits. */
  readonly diskId: string;
  /** Non-fatal findings (e.g. "primary GPT header damaged, using the backup"). */
  readonly warnings: readonly string[];
  list(): PartitionEntry[];
  /** The partition with this GPT name, or this 1-based number (as a number or decimal text). */
  partition(nameOrNumber: string | number): Promise<Block>;
}

export function makeTable(
  scheme: "mbr" | "gpt",
  disk: Block,
  diskId: string,
  entries: PartitionEntry[],
  warnings: string[],
): PartitionTable {
  return {
    scheme,
    diskId,
    warnings,
    list: () => entries.map((e) => ({ ...e })),
    async partition(nameOrNumber) {
      const entry = findEntry(scheme, entries, nameOrNumber);
      if (entry.kind === "extended") {
        throw new BlockError("out-of-range", `${scheme.toUpperCase()} partition ${entry.number} is an extended partition (a container); use one of its logical partitions`);
      }
      const label = `${scheme.toUpperCase()} partition ${entry.number}${entry.name ? ` "${entry.name}"` : ""}`;
      return new PartitionBlock(disk, entry.start, entry.sizeSectors, await disk.info(), label);
    },
  };
}

function describe(entries: PartitionEntry[]): string {
  if (entries.length === 0) return "the table has no partitions";
  return "partitions: " + entries.map((e) => (e.name ? `${e.number} "${e.name}"` : String(e.number))).join(", ");
}

function findEntry(scheme: string, entries: PartitionEntry[], nameOrNumber: string | number): PartitionEntry {
  if (typeof nameOrNumber === "string") {
    const byName = entries.filter((e) => e.name !== "" && e.name === nameOrNumber);
    if (byName.length > 1) {
      throw new BlockError("out-of-range", `${byName.length} ${scheme.toUpperCase()} partitions are named "${nameOrNumber}" (numbers ${byName.map((e) => e.number).join(", ")}); choose one by number`);
    }
    if (byName[0]) return byName[0];
    if (!/^[1-9][0-9]*$/.test(nameOrNumber)) {
      throw new BlockError("out-of-range", `no ${scheme.toUpperCase()} partition named "${nameOrNumber}"; ${describe(entries)}`);
    }
  }
  const n = Number(nameOrNumber);
  const byNumber = entries.find((e) => e.number === n);
  if (!byNumber) throw new BlockError("out-of-range", `no ${scheme.toUpperCase()} partition number ${nameOrNumber}; ${describe(entries)}`);
  return byNumber;
}

/** Thrown for a table that cannot be read: says what is wrong and where. */
export class PartitionTableError extends BlockError {
  constructor(message: string) {
    super("io", message);
  }
}

/** Sorted overlap check: throws naming the first two partitions that share a sector. */
export function checkNoOverlap(scheme: string, parts: { number: number; start: number; sizeSectors: number }[]): void {
  const sorted = [...parts].filter((p) => p.sizeSectors > 0).sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.start < a.start + a.sizeSectors) {
      throw new PartitionTableError(
        `${scheme}: partitions ${a.number} (sectors ${a.start}..${a.start + a.sizeSectors - 1}) and ${b.number} (sectors ${b.start}..${b.start + b.sizeSectors - 1}) overlap`,
      );
    }
  }
}
