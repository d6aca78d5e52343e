// oasis/block: block devices (host file, ramdisk), partitions (MBR, GPT) and AES-CCM encryption.
// Every layer is a Block over a Block, so they compose as values: ccm(key, partition(table, "data")).
export { FileBlock, openFile, type FileBlockOptions } from "./file.ts";
export { Ramdisk, ramdisk, type RamdiskOptions } from "./ramdisk.ts";
export { fileBlockDevice, ramdiskDevice } from "./devices.ts";
