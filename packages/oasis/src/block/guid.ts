// GUIDs as stored by GPT: the first three fields little-endian, the last two big-endian.
import { fillRandom } from "oasis/random";

const TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(text: string): boolean {
  return TEXT.test(text);
}

/** Encodes "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" into 16 bytes at `out[offset]`. */
export function writeGuid(text: string, out: Uint8Array, offset: number): void {
  if (!isGuid(text)) throw new Error(`"${text}" is not a GUID (expected 8-4-4-4-12 hex digits)`);
  const hex = text.replace(/-/g, "");
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) out[offset + i] = bytes[order[i]!]!;
}

/** Decodes 16 bytes at `bytes[offset]` into upper-case text, the form sgdisk prints. */
export function readGuid(bytes: Uint8Array, offset: number): string {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  let hex = "";
  for (let i = 0; i < 16; i++) hex += bytes[offset + order[i]!]!.toString(16).padStart(2, "0");
  hex = hex.toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A random (version 4) GUID. */
export function randomGuid(): string {
  const b = fillRandom(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const ZERO_GUID = "00000000-0000-0000-0000-000000000000";
