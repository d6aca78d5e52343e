// oasis >= 0.1.0 & < 0.2.0
import { block, blockOfFile, main, register } from "oasis/config";

// The same host file twice: once read-write, once read-only (group "ro": its path is --ro-block-file).
const disk = blockOfFile("disk.img");
const readOnly = blockOfFile("disk.img", { readOnly: true, group: "ro" });

register("block-test", [main("./unikernel.ts", { disk: block, readOnly: block })({ disk, readOnly })]);
