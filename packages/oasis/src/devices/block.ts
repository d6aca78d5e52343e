export interface BlockInfo {
  readWrite: boolean;
  /** Bytes per sector; a power of two, at least 512. */
  sectorSize: number;
  sizeSectors: number;
}

/**
 * A block device addressed by sector number. Every buffer is a whole number of sectors.
 * Errors are BlockError: "out-of-range" (any sector past the end: nothing is done), "misaligned"
 * (buffer not a multiple of sectorSize), "read-only", "disconnected", "io", and "integrity" for
 * authenticated layers such as CCM. Layers (partition, ccm) are Blocks over Blocks.
 */
export interface Block {
  info(): Promise<BlockInfo>;
  /** Fills `buffer` from sectors starting at `sector`. */
  read(sector: number, buffer: Uint8Array): Promise<void>;
  /** Writes `buffer` to sectors starting at `sector`; the buffer is not kept. */
  write(sector: number, buffer: Uint8Array): Promise<void>;
  /** Makes completed writes durable (fsync on a host file). */
  flush(): Promise<void>;
  disconnect(): Promise<void>;
}
