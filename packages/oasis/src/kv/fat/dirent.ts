// FAT directory entries: 32-byte short (8.3) entries and the VFAT long-name entries that precede
// them, with the long-name checksum and Windows-style short-name generation (BASIS~N).

export const ENTRY = 32;
export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LFN = 0x0f;
export const DELETED = 0xe5;
/** NT case bits in byte 12: base / extension stored in lower case. */
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXT = 0x10;

export interface ShortEntry {
  /** 11 bytes, space padded, as on disk. */
  shortName: Uint8Array;
  attr: number;
  ntCase: number;
  firstCluster: number;
  size: number;
  mtimeMs: number;
}

/** A directory entry with its name resolved (long name if valid, else the 8.3 name). */
export interface DirEntry extends ShortEntry {
  name: string;
  /** Slot indices: the first long-name slot (or the short slot) to the short slot, inclusive. */
  firstSlot: number;
  shortSlot: number;
}

export function lfnChecksum(shortName: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + shortName[i]!) & 0xff;
  return sum;
}

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}
function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, (v >>> 16) & 0xffff);
}

/** FAT timestamps are local time with 2-second resolution; Oasis stores UTC. */
export function decodeTime(date: number, time: number): number {
  const year = 1980 + (date >> 9);
  const month = Math.max(1, (date >> 5) & 0x0f);
  const day = Math.max(1, date & 0x1f);
  return Date.UTC(year, month - 1, day, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2);
}

/** A time as FAT will give it back (2-second resolution, 1980–2107). */
export function roundTime(ms: number): number {
  const { date, time } = encodeTime(ms);
  return decodeTime(date, time);
}

export function encodeTime(ms: number): { date: number; time: number } {
  const d = new Date(Math.max(ms, Date.UTC(1980, 0, 1)));
  if (d.getUTCFullYear() > 2107) return { date: (127 << 9) | (12 << 5) | 31, time: (23 << 11) | (59 << 5) | 29 };
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

function readShort(b: Uint8Array, at: number): ShortEntry {
  return {
    shortName: b.slice(at, at + 11),
    attr: b[at + 11]!,
    ntCase: b[at + 12]!,
    firstCluster: ((u16(b, at + 20) << 16) | u16(b, at + 26)) >>> 0,
    size: u32(b, at + 28),
    mtimeMs: decodeTime(u16(b, at + 24), u16(b, at + 22)),
  };
}

export function writeShort(b: Uint8Array, at: number, e: ShortEntry, createdMs = e.mtimeMs): void {
  b.fill(0, at, at + ENTRY);
  b.set(e.shortName, at);
  b[at + 11] = e.attr;
  b[at + 12] = e.ntCase;
  const c = encodeTime(createdMs);
  put16(b, at + 14, c.time);
  put16(b, at + 16, c.date);
  put16(b, at + 18, encodeTime(e.mtimeMs).date);
  put16(b, at + 20, e.firstCluster >>> 16);
  const m = encodeTime(e.mtimeMs);
  put16(b, at + 22, m.time);
  put16(b, at + 24, m.date);
  put16(b, at + 26, e.firstCluster & 0xffff);
  put32(b, at + 28, e.size);
}

/** The short name as text, honouring the NT lower-case bits ("README.TXT", "readme.txt"). */
export function shortNameText(name: Uint8Array, ntCase = 0): string {
  const raw = Array.from(name, (c, i) => (i === 0 && c === 0x05 ? 0xe5 : c));
  let base = String.fromCharCode(...raw.slice(0, 8)).trimEnd();
  let ext = String.fromCharCode(...raw.slice(8)).trimEnd();
  if (ntCase & NT_LOWER_BASE) base = base.toLowerCase();
  if (ntCase & NT_LOWER_EXT) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

export interface ParsedDir {
  entries: DirEntry[];
  /** Slot index of the first end-of-directory marker (or the slot count when full). */
  endSlot: number;
  slots: number;
}

/** Parses a directory's bytes. Long names whose checksum or sequence is wrong fall back to the 8.3 name. */
export function parseDirectory(b: Uint8Array): ParsedDir {
  const slots = Math.floor(b.length / ENTRY);
  const entries: DirEntry[] = [];
  let lfn: { parts: string[]; checksum: number; expect: number; first: number } | null = null;
  let endSlot = slots;
  for (let i = 0; i < slots; i++) {
    const at = i * ENTRY;
    const first = b[at]!;
    if (first === 0) {
      endSlot = i;
      break;
    }
    if (first === DELETED) {
      lfn = null;
      continue;
    }
    const attr = b[at + 11]!;
    if ((attr & 0x3f) === ATTR_LFN) {
      const ord = first & 0x1f;
      const units: number[] = [];
      for (const [o, n] of [[1, 5], [14, 6], [28, 2]] as const) for (let k = 0; k < n; k++) units.push(u16(b, at + o + k * 2));
      const end = units.indexOf(0);
      const part = String.fromCharCode(...(end < 0 ? units : units.slice(0, end)));
      if (first & 0x40) lfn = { parts: [part], checksum: b[at + 13]!, expect: ord - 1, first: i };
      else if (lfn && ord === lfn.expect && ord > 0 && b[at + 13] === lfn.checksum) {
        lfn.parts.unshift(part);
        lfn.expect--;
      } else lfn = null;
      continue;
    }
    const e = readShort(b, at);
    const valid = lfn && lfn.expect === 0 && lfn.checksum === lfnChecksum(e.shortName);
    const pending = lfn;
    lfn = null;
    if (attr & ATTR_VOLUME) continue;
    const short = shortNameText(e.shortName, e.ntCase);
    if (short === "." || short === "..") continue;
    entries.push({ ...e, name: valid ? pending!.parts.join("") : short, firstSlot: valid ? pending!.first : i, shortSlot: i });
  }
  return { entries, endSlot, slots };
}

const SHORT_OK = /^[A-Z0-9!#$%&'()\-@^_`{}~]$/;
const LONG_BAD = /[\\/:*?"<>|\x00-\x1f]/;

/** Why `name` cannot be a FAT long name, or null. */
export function invalidLongName(name: string): string | null {
  if (LONG_BAD.test(name)) return `it contains a character FAT cannot store (one of \\ / : * ? " < > | or a control character)`;
  if (/[. ]$/.test(name)) return "it ends with '.' or ' ', which FAT drops";
  if (name.length > 255) return "it is longer than 255 characters";
  return null;
}

function padShort(base: string, ext: string): Uint8Array {
  const out = new Uint8Array(11).fill(0x20);
  for (let i = 0; i < base.length; i++) out[i] = base.charCodeAt(i);
  for (let i = 0; i < ext.length; i++) out[8 + i] = ext.charCodeAt(i);
  return out;
}

/**
 * The 8.3 entry for `name`: the exact name when it is a valid 8.3 name in one case per part (no
 * long-name entries needed), else a generated BASIS~N unique among `taken` (upper-case 8.3 texts).
 */
export function shortNameFor(name: string, taken: ReadonlySet<string>): { shortName: Uint8Array; ntCase: number; needsLfn: boolean } {
  const m = /^([^.]{1,8})(?:\.([^.]{1,3}))?$/.exec(name);
  if (m) {
    const [, base, ext = ""] = m as unknown as [string, string, string | undefined];
    const caseOf = (s: string) => (s === s.toUpperCase() ? "upper" : s === s.toLowerCase() ? "lower" : "mixed");
    const valid = [...(base + ext).toUpperCase()].every((c) => SHORT_OK.test(c));
    const cb = caseOf(base);
    const ce = caseOf(ext);
    if (valid && cb !== "mixed" && ce !== "mixed" && !taken.has(shortNameText(padShort(base.toUpperCase(), ext.toUpperCase())))) {
      return { shortName: padShort(base.toUpperCase(), ext.toUpperCase()), ntCase: (cb === "lower" ? NT_LOWER_BASE : 0) | (ce === "lower" && ext ? NT_LOWER_EXT : 0), needsLfn: false };
    }
  }
  const stripped = name.replace(/^[. ]+/, "");
  const dot = stripped.lastIndexOf(".");
  const rawBase = dot > 0 ? stripped.slice(0, dot) : stripped;
  const rawExt = dot > 0 ? stripped.slice(dot + 1) : "";
  const clean = (s: string) => [...s.toUpperCase().replace(/[ .]/g, "")].map((c) => (SHORT_OK.test(c) ? c : "_")).join("");
  const base = clean(rawBase) || "_";
  const ext = clean(rawExt).slice(0, 3);
  // Like Windows: ~1 to ~4 on the plain basis, then two basis letters, a hash of the long name and
  // a tail, so a directory with thousands of similar names does not try every number in turn.
  for (let n = 1; n <= 4; n++) {
    const candidate = padShort(base.slice(0, 6) + `~${n}`, ext);
    if (!taken.has(shortNameText(candidate))) return { shortName: candidate, ntCase: 0, needsLfn: true };
  }
  for (let salt = 0; salt < 1 << 16; salt++) {
    const hash = hashName(`${name}\u0000${salt}`).toString(16).toUpperCase().padStart(4, "0");
    for (let n = 1; n <= 9; n++) {
      const candidate = padShort(base.slice(0, 2) + hash + `~${n}`, ext);
      if (!taken.has(shortNameText(candidate))) return { shortName: candidate, ntCase: 0, needsLfn: true };
    }
  }
  throw new Error(`no free short name for ${name}`);
}

/** A 16-bit FNV-1a style hash of a name's UTF-16 units. */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 16)) & 0xffff;
}

/** The long-name slots for `name` (UTF-16, 13 units per slot), in on-disk order. */
export function longNameSlots(name: string, checksum: number): Uint8Array[] {
  const units = Array.from({ length: name.length }, (_, i) => name.charCodeAt(i));
  const count = Math.ceil(units.length / 13);
  if (units.length % 13 !== 0) units.push(0);
  while (units.length < count * 13) units.push(0xffff);
  const slots: Uint8Array[] = [];
  for (let ord = count; ord >= 1; ord--) {
    const s = new Uint8Array(ENTRY);
    s[0] = ord | (ord === count ? 0x40 : 0);
    s[11] = ATTR_LFN;
    s[13] = checksum;
    const chunk = units.slice((ord - 1) * 13, ord * 13);
    let k = 0;
    for (const [o, n] of [[1, 5], [14, 6], [28, 2]] as const) for (let j = 0; j < n; j++) put16(s, o + j * 2, chunk[k++]!);
    slots.push(s);
  }
  return slots;
}

export function dotEntries(self: number, parent: number, mtimeMs: number): Uint8Array {
  const b = new Uint8Array(2 * ENTRY);
  writeShort(b, 0, { shortName: padShort(".", ""), attr: ATTR_DIRECTORY, ntCase: 0, firstCluster: self, size: 0, mtimeMs });
  writeShort(b, ENTRY, { shortName: padShort("..", ""), attr: ATTR_DIRECTORY, ntCase: 0, firstCluster: parent, size: 0, mtimeMs });
  return b;
}

export { u16, u32, put16, put32 };
