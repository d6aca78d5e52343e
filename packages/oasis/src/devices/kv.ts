/**
 * Keys are "/"-separated paths; "/a/b" and "a/b" name the same entry, and keys returned by the
 * store always start with "/". Errors are KvError with a code: "not-found", "value-expected"
 * (a value was needed but the key is a dictionary), "dictionary-expected", "no-space",
 * "already-present", "rename-source-prefix", "invalid-key", "read-only", "io".
 */
export type EntryKind = "value" | "dictionary";

export interface KvRo {
  /** null when absent. */
  exists(key: string): Promise<EntryKind | null>;
  get(key: string): Promise<Uint8Array>;
  /** At most `length` bytes from `offset`; shorter (or empty) past the end. */
  getPartial(key: string, offset: number, length: number): Promise<Uint8Array>;
  /** The direct children of a dictionary, with absolute keys, sorted by key. */
  list(key: string): Promise<Array<[key: string, kind: EntryKind]>>;
  lastModified(key: string): Promise<Date>;
  /** A digest of the value (or dictionary) that changes when its contents change. */
  digest(key: string): Promise<Uint8Array>;
  size(key: string): Promise<number>;
  disconnect(): Promise<void>;
}

export interface KvRw extends KvRo {
  /** Stores `value` durably, creating parent dictionaries. */
  set(key: string, value: Uint8Array | string): Promise<void>;
  /** Writes at `offset`, growing the value (zero-filled) when offset is past its end. */
  setPartial(key: string, offset: number, data: Uint8Array | string): Promise<void>;
  /** Creates a zero-filled value of `size` bytes; KvError("already-present") if the key exists. */
  allocate(key: string, size: number, lastModified?: Date): Promise<void>;
  /** Removes a value or a whole dictionary; absent keys are not an error. */
  remove(key: string): Promise<void>;
  /** Moves `source` to `dest` (into `dest` when it is a dictionary). */
  rename(source: string, dest: string): Promise<void>;
}
