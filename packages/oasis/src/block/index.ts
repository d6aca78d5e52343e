// oasis/block: block devices (host file, ramdisk), partitions (MBR, GPT) and AES-CCM encryption.
// Every layer is a Block over a Block, so they compose as values:
//   const data = await (await readGpt(await openFile("disk.img"))).partition("data");
//   const secret = await ccm(keyHex, data);
export { FileBlock, openFile, type FileBlockOptions } from "./file.ts";
export { Ramdisk, ramdisk, type RamdiskOptions } from "./ramdisk.ts";
export { PartitionBlock, slice } from "./partition.ts";
export { readMbr, writeMbr, MBR_TYPE_NAMES, type MbrPartitionSpec } from "./mbr.ts";
export { readGpt, writeGpt, GPT_TYPES, type GptTable, type GptPartitionSpec, type GptWriteOptions } from "./gpt.ts";
export { PartitionTableError, type PartitionTable, type PartitionEntry } from "./table.ts";
export { CcmBlock, ccm, parseCcmKey, type CcmOptions } from "./ccm.ts";
export { crc32 } from "./crc32.ts";
export { fileBlockDevice, ramdiskDevice, ccmBlockDevice, gptDevice, mbrDevice, partitionDevice } from "./devices.ts";
