// The module `oasis build` generates for a crunched directory (see tool/crunch.ts) exports a
// value of this type as default. Kept here so the KV store and the generator agree.

export interface CrunchEntry {
  /** Absolute key, "/"-separated: "/css/site.css". */
  key: string;
  /** The file's bytes, base64 (decoded lazily by the store). */
  base64: string;
  size: number;
  /** Modification time in ms since the epoch (SOURCE_DATE_EPOCH when set, for reproducible builds). */
  mtimeMs: number;
}

export interface CrunchData {
  /** The directory as written in config.ts. */
  dir: string;
  entries: CrunchEntry[];
}
