// Argument checks every Block implementation shares, so the error codes and messages agree.
import { BlockError } from "../devices/errors.ts";
import type { BlockInfo } from "../devices/block.ts";

export function isValidSectorSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && (n & (n - 1)) === 0 && n <= 1 << 20;
}

export function assertSectorSize(n: number, where: string): void {
  if (!isValidSectorSize(n)) {
    throw new BlockError("misaligned", `${where}: sector size ${n} is not a power of two between 512 and 1048576; use 512 or 4096`);
  }
}

/**
 * Validates one read or write of `buffer` at `sector` and returns the number of sectors it covers.
 * Nothing has been done when this throws.
 */
export function checkIo(what: string, info: BlockInfo, op: "read" | "write", sector: number, buffer: Uint8Array): number {
  if (!Number.isSafeInteger(sector) || sector < 0) {
    throw new BlockError("out-of-range", `${what}: ${op} at sector ${sector}: the sector number must be a non-negative integer`);
  }
  if (op === "write" && !info.readWrite) {
    throw new BlockError("read-only", `${what}: write at sector ${sector} refused: the device is read-only`);
  }
  if (buffer.length % info.sectorSize !== 0) {
    throw new BlockError(
      "misaligned",
      `${what}: ${op} of ${buffer.length} bytes at sector ${sector}: the buffer must be a whole number of ${info.sectorSize}-byte sectors`,
    );
  }
  const count = buffer.length / info.sectorSize;
  if (sector + count > info.sizeSectors) {
    throw new BlockError(
      "out-of-range",
      `${what}: ${op} of sectors ${sector}..${sector + count - 1} is past the end of the device (${info.sizeSectors} sectors); nothing was done`,
    );
  }
  return count;
}

export function disconnectedError(what: string, op: string): BlockError {
  return new BlockError("disconnected", `${what}: ${op} after disconnect; connect the device again`);
}
