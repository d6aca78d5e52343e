// The tar format as GNU tar writes it: 512-byte records; ustar headers (name + prefix), pax
// extended headers ('x', 'g') that override path, size and mtime, and GNU long names ('L', 'K').
// Headers are parsed into a plain representation after checking the checksum.

export const RECORD = 512;

export type TarType = "file" | "directory" | "hardlink" | "symlink" | "pax" | "pax-global" | "gnu-longname" | "gnu-longlink" | "other";

export interface TarHeader {
  name: string;
  /** ustar prefix joined in, when present. */
  path: string;
  mode: number;
  size: number;
  mtimeMs: number;
  type: TarType;
  typeflag: string;
  linkname: string;
}

export type HeaderParse = { kind: "zero" } | { kind: "invalid"; reason: "bad-checksum" | "bad-number" } | { kind: "header"; header: TarHeader };

const decoder = new TextDecoder("utf-8", { fatal: false });
const encoder = new TextEncoder();

function cstring(b: Uint8Array, at: number, len: number): string {
  const field = b.subarray(at, at + len);
  const nul = field.indexOf(0);
  return decoder.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Octal (NUL/space terminated), or GNU base-256 when the high bit of the first byte is set. */
export function parseNumber(b: Uint8Array, at: number, len: number): number | null {
  const field = b.subarray(at, at + len);
  if (field[0]! & 0x80) {
    if (field[0] === 0xff) return null; // negative: not meaningful for sizes or times we accept
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return Number.isSafeInteger(n) ? n : null;
  }
  const text = decoder.decode(field).replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) return null;
  return parseInt(text, 8);
}

function checksumOf(b: Uint8Array): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < RECORD; i++) {
    const v = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += v;
    signed += v > 127 ? v - 256 : v;
  }
  return { unsigned, signed };
}

const TYPES: Record<string, TarType> = {
  "0": "file", "\0": "file", "7": "file", "5": "directory", "1": "hardlink", "2": "symlink",
  x: "pax", g: "pax-global", L: "gnu-longname", K: "gnu-longlink",
};

export function parseHeader(b: Uint8Array): HeaderParse {
  if (b.every((x) => x === 0)) return { kind: "zero" };
  const stored = parseNumber(b, 148, 8);
  const sum = checksumOf(b);
  if (stored === null || (stored !== sum.unsigned && stored !== sum.signed)) return { kind: "invalid", reason: "bad-checksum" };
  const size = parseNumber(b, 124, 12);
  const mtime = parseNumber(b, 136, 12);
  const mode = parseNumber(b, 100, 8);
  if (size === null || mtime === null || mode === null) return { kind: "invalid", reason: "bad-number" };
  const typeflag = String.fromCharCode(b[156]!);
  const name = cstring(b, 0, 100);
  const magic = cstring(b, 257, 6);
  // GNU's old format ("ustar  ") keeps other data where ustar has the prefix.
  const prefix = magic === "ustar" && b[262] === 0 ? cstring(b, 345, 155) : "";
  return {
    kind: "header",
    header: {
      name,
      path: prefix ? `${prefix}/${name}` : name,
      mode,
      size,
      mtimeMs: mtime * 1000,
      type: TYPES[typeflag] ?? "other",
      typeflag,
      linkname: cstring(b, 157, 100),
    },
  };
}

/** Pax records "LEN key=value\n"; null when malformed. */
export function parsePax(data: Uint8Array): Map<string, string> | null {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding
    let sp = at;
    while (sp < data.length && data[sp] !== 0x20) sp++;
    const len = Number(decoder.decode(data.subarray(at, sp)));
    if (!Number.isInteger(len) || len <= sp - at + 1 || at + len > data.length || data[at + len - 1] !== 0x0a) return null;
    const record = decoder.decode(data.subarray(sp + 1, at + len - 1));
    const eq = record.indexOf("=");
    if (eq <= 0) return null;
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
}

export function emitPaxRecord(key: string, value: string): Uint8Array {
  const body = encoder.encode(` ${key}=${value}\n`);
  // The length counts its own digits.
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return encoder.encode(`${len} ${key}=${value}\n`);
}

function putString(b: Uint8Array, at: number, len: number, s: string): void {
  const bytes = encoder.encode(s);
  if (bytes.length > len) throw new RangeError(`tar field of ${len} bytes cannot hold ${JSON.stringify(s)}`);
  b.set(bytes, at);
}

function putOctal(b: Uint8Array, at: number, len: number, n: number): void {
  putString(b, at, len, n.toString(8).padStart(len - 1, "0") + "\0");
}

export const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export interface EmitHeader {
  name: string;
  prefix?: string;
  size: number;
  mtimeS: number;
  typeflag: "0" | "5" | "x";
  mode?: number;
}

/** A POSIX ustar header record. Sizes beyond 11 octal digits must travel in a pax record. */
export function emitHeader(h: EmitHeader): Uint8Array {
  const b = new Uint8Array(RECORD);
  putString(b, 0, 100, h.name);
  putOctal(b, 100, 8, h.mode ?? (h.typeflag === "5" ? 0o755 : 0o644));
  putOctal(b, 108, 8, 0);
  putOctal(b, 116, 8, 0);
  putOctal(b, 124, 12, Math.min(h.size, MAX_OCTAL_SIZE));
  putOctal(b, 136, 12, Math.max(0, Math.min(Math.floor(h.mtimeS), MAX_OCTAL_SIZE)));
  b[156] = h.typeflag.charCodeAt(0);
  putString(b, 257, 6, "ustar\0");
  putString(b, 263, 2, "00");
  putString(b, 265, 32, "root");
  putString(b, 297, 32, "root");
  if (h.prefix) putString(b, 345, 155, h.prefix);
  b.fill(0x20, 148, 156);
  const sum = checksumOf(b).unsigned;
  putString(b, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** Splits a path into ustar name and prefix when it fits; null when a pax path record is needed. */
export function splitUstarPath(path: string): { name: string; prefix: string } | null {
  if (!/^[\x20-\x7e]*$/.test(path)) return null; // keep ustar fields ASCII; anything else goes to pax (UTF-8)
  if (path.length <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    if (i <= 155 && path.length - i - 1 <= 100 && path.length - i - 1 > 0) return { prefix: path.slice(0, i), name: path.slice(i + 1) };
  }
  return null;
}

export function paddedSize(n: number): number {
  return Math.ceil(n / RECORD) * RECORD;
}
