// The device modules named by the DSL (config/devices.ts): the generated main declares them
// before the command line is parsed and connects them after.
import type { Block } from "../devices/block.ts";
import { runtimeArg } from "../runtime/args.ts";
import { argName, defineDevice } from "../runtime/device.ts";
import { FileBlock } from "./file.ts";
import { Ramdisk } from "./ramdisk.ts";

/** `blockOfFile(path, { sectorSize, readOnly })`: the path can be replaced at boot with --[GROUP-]block-file. */
export const fileBlockDevice = defineDevice({
  declare(options: { path: string; sectorSize: number; readOnly: boolean }, ctx) {
    // No default in the declaration: ungrouped file devices share the flag, each keeps its own path.
    const file = runtimeArg.string({
      name: argName(ctx, "block-file"),
      doc: `Host file to use as the disk instead of the one named in config.ts${ctx.group ? "" : " (applies to every file block device without a group)"}`,
      docv: "PATH",
      section: "disk",
    });
    return async (): Promise<Block> => FileBlock.open(file() ?? options.path, { sectorSize: options.sectorSize, readOnly: options.readOnly });
  },
});

/** `ramdisk(name, { sizeSectors, sectorSize })`: zero-filled at every boot. */
export const ramdiskDevice = defineDevice({
  declare(options: { name: string; sizeSectors: number; sectorSize: number }) {
    return async (): Promise<Block> => new Ramdisk({ name: options.name, sizeSectors: options.sizeSectors, sectorSize: options.sectorSize });
  },
});
