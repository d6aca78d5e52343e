// The device modules named by the DSL (config/devices.ts): the generated main declares them
// before the command line is parsed and connects them after.
import { source } from "oasis/logs";
import type { Block } from "../devices/block.ts";
import { runtimeArg, type Reader } from "../runtime/args.ts";
import { argName, defineDevice } from "../runtime/device.ts";
import { CcmBlock, parseCcmKey } from "./ccm.ts";
import { FileBlock } from "./file.ts";
import { readGpt } from "./gpt.ts";
import { readMbr } from "./mbr.ts";
import { Ramdisk } from "./ramdisk.ts";
import type { PartitionTable } from "./table.ts";

const log = source("block", "block devices, partitions and encryption");

// How many file devices share each --block-file flag: one flag must never point two disks at one file.
const fileFlagUsers = new Map<string, number>();

/** `blockOfFile(path, { sectorSize, readOnly })`: the path can be replaced at boot with --[GROUP-]block-file. */
export const fileBlockDevice = defineDevice({
  declare(options: { path: string; sectorSize: number; readOnly: boolean }, ctx) {
    const flag = argName(ctx, "block-file");
    fileFlagUsers.set(flag, (fileFlagUsers.get(flag) ?? 0) + 1);
    // No default in the declaration: ungrouped file devices share the flag, each keeps its own path.
    const file = runtimeArg.string({
      name: argName(ctx, "block-file"),
      doc: `Host file to use as the disk instead of the one named in config.ts${ctx.group ? "" : " (applies to every file block device without a group)"}`,
      docv: "PATH",
      section: "disk",
    });
    return async (): Promise<Block> => {
      const given = file();
      const users = fileFlagUsers.get(flag) ?? 1;
      if (given !== undefined && users > 1) {
        throw new Error(`--${flag} would point ${users} file block devices at the same file; give them groups in config.ts (blockOfFile(path, { group: "data" }) reads --data-block-file)`);
      }
      const path = given ?? options.path;
      const disk = await FileBlock.open(path, { sectorSize: options.sectorSize, readOnly: options.readOnly });
      const info = await disk.info();
      log.info(() => `${path}: ${info.sizeSectors} sectors of ${info.sectorSize} bytes${info.readWrite ? "" : ", read-only"}`);
      return disk;
    };
  },
});

/** `ramdisk(name, { sizeSectors, sectorSize })`: zero-filled at every boot. */
export const ramdiskDevice = defineDevice({
  declare(options: { name: string; sizeSectors: number; sectorSize: number }) {
    return async (): Promise<Block> => new Ramdisk({ name: options.name, sizeSectors: options.sizeSectors, sectorSize: options.sectorSize });
  },
});

/** `ccmBlock(disk, { key, nonceLen })`: the key comes from --[GROUP-]ccm-key, defaulting to config.ts's. */
export const ccmBlockDevice = defineDevice({
  declare(options: { key: string | null; nonceLen: number }, ctx) {
    const name = argName(ctx, "ccm-key");
    const spec = {
      name,
      doc: "AES key of the encrypted disk (AES-CCM, mirage-block-ccm v2 layout)",
      docv: "HEX",
      section: "disk" as const,
      expected: "an AES key as 32, 48 or 64 hex digits, 0x optional",
      parse: (text: string) => text,
      // Never print a key in --help, even a demo default.
      format: () => "the key in config.ts",
    };
    const key: Reader<string | undefined> = options.key === null ? runtimeArg.custom(spec) : runtimeArg.custom({ ...spec, default: options.key });
    return async (deps: { block: Block }): Promise<Block> => {
      const text = key();
      if (text === undefined || text.trim() === "") {
        throw new Error(`no key for the encrypted disk: give one with --${name}=HEX (32, 48 or 64 hex digits; e.g. from \`openssl rand -hex 16\`)`);
      }
      let raw: Uint8Array;
      try {
        raw = parseCcmKey(text);
      } catch (e) {
        throw new Error(`--${name}: ${(e as Error).message}`);
      }
      return CcmBlock.connect(raw, deps.block, { nonceLen: options.nonceLen });
    };
  },
});

function reportTable(table: PartitionTable): PartitionTable {
  for (const w of table.warnings) log.warn(w);
  log.info(() => `${table.scheme.toUpperCase()} ${table.diskId}: ${table.list().map((p) => `${p.number}${p.name ? ` "${p.name}"` : ""} (${p.sizeSectors} sectors)`).join(", ") || "no partitions"}`);
  return table;
}

/** `gpt(disk)`: the disk's GUID partition table (the backup is used, with a warning, if the primary is damaged). */
export const gptDevice = defineDevice({
  declare() {
    return async (deps: { block: Block }): Promise<PartitionTable> => reportTable(await readGpt(deps.block));
  },
});

/** `mbr(disk)`: the disk's MBR partition table, including logical partitions. */
export const mbrDevice = defineDevice({
  declare() {
    return async (deps: { block: Block }): Promise<PartitionTable> => reportTable(await readMbr(deps.block));
  },
});

/** `partition(table, name)`: a GPT partition by name, or any partition by 1-based number. */
export const partitionDevice = defineDevice({
  declare(options: { name: string }) {
    return async (deps: { table: PartitionTable }): Promise<Block> => deps.table.partition(options.name);
  },
});
