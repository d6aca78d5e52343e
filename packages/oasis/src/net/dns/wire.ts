// The DNS wire format (RFC 1035, RFC 3596 AAAA, RFC 2782 SRV, RFC 6891 EDNS0): a message
// representation, `parseMessage(bytes) → DnsMessage | WireError` and `emitMessage(message) → bytes`.
// Names are presentation-format strings without the final dot ("" is the root); bytes outside
// printable ASCII and the characters . and \ inside a label are escaped (\DDD, \., \\), so any
// name read off the wire round-trips.
import { WireError } from "../wire/error.ts";
import { formatIpv4Bytes, formatIpv6Bytes, ipv4Bytes, ipv6Bytes } from "./address.ts";

export const DNS_PORT = 53;
export const CLASS_IN = 1;
/** RFC 1035 §4.2.1: the largest DNS message over UDP without EDNS. */
export const UDP_PAYLOAD_WITHOUT_EDNS = 512;

/** Record types this codec interprets (others are carried as opaque `unknown` data). */
export const RR_TYPES = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41 } as const;
export type RecordTypeName = Exclude<keyof typeof RR_TYPES, "OPT">;
const TYPE_NAMES = new Map<number, keyof typeof RR_TYPES>(Object.entries(RR_TYPES).map(([k, v]) => [v, k as keyof typeof RR_TYPES]));

/** The mnemonic of a type number ("A", "AAAA"), or "TYPE65" (RFC 3597) for others. */
export function typeName(code: number): string {
  return TYPE_NAMES.get(code) ?? `TYPE${code}`;
}

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const RCODE_NAMES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export type RData =
  | { type: "A"; address: string }
  | { type: "AAAA"; address: string }
  | { type: "CNAME"; target: string }
  | { type: "NS"; host: string }
  | { type: "PTR"; target: string }
  | { type: "MX"; preference: number; exchange: string }
  /** Character strings as bytes (each at most 255). */
  | { type: "TXT"; strings: Uint8Array[] }
  | { type: "SOA"; mname: string; rname: string; serial: number; refresh: number; retry: number; expire: number; minimum: number }
  | { type: "SRV"; priority: number; weight: number; port: number; target: string }
  | { type: "unknown"; code: number; data: Uint8Array };

export interface DnsRecord {
  name: string;
  class: number;
  /** Seconds. */
  ttl: number;
  data: RData;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface EdnsOption {
  code: number;
  data: Uint8Array;
}

/** The OPT pseudo-record, carried outside the additional section in this representation. */
export interface Edns {
  udpPayloadSize: number;
  version: number;
  dnssecOk: boolean;
  options: EdnsOption[];
}

export interface DnsMessage {
  id: number;
  /** True for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  /** Truncated: the full answer needs TCP. */
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  /** 12 bits: the header's 4 plus EDNS's extended 8. */
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
  edns: Edns | null;
}

export function typeCode(data: RData): number {
  return data.type === "unknown" ? data.code : RR_TYPES[data.type];
}

// ---- names ------------------------------------------------------------------------------------

const MAX_NAME_WIRE = 255;
const MAX_LABEL = 63;

function escapeLabel(b: Uint8Array, start: number, length: number): string {
  let s = "";
  for (let i = start; i < start + length; i++) {
    const c = b[i]!;
    if (c === 0x2e || c === 0x5c) s += "\\" + String.fromCharCode(c);
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += "\\" + String(c).padStart(3, "0");
  }
  return s;
}

/**
 * The labels of a presentation-format name (a final dot is allowed), or an error message saying
 * what is wrong with it.
 */
export function nameLabels(name: string): Uint8Array[] | string {
  if (name === "" || name === ".") return [];
  const labels: Uint8Array[] = [];
  let current: number[] = [];
  let total = 1;
  const finish = (): string | null => {
    if (current.length === 0) return "it has an empty label (two dots in a row, or a leading dot)";
    if (current.length > MAX_LABEL) return `label '${escapeLabel(Uint8Array.from(current), 0, current.length)}' is ${current.length} bytes long (at most 63)`;
    total += current.length + 1;
    labels.push(Uint8Array.from(current));
    current = [];
    return null;
  };
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch > 0x7e || ch < 0x20) return `it contains the character ${JSON.stringify(name[i])}: write internationalised names in punycode (xn--…)`;
    if (ch === 0x2e) {
      if (i === name.length - 1 && current.length > 0) break;
      const why = finish();
      if (why) return why;
    } else if (ch === 0x5c) {
      const digits = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (digits) {
        const v = Number(digits[0]);
        if (v > 255) return `escape \\${digits[0]} is not a byte value`;
        current.push(v);
        i += 3;
      } else if (i + 1 < name.length) {
        current.push(name.charCodeAt(++i));
      } else return "it ends with a lone backslash";
    } else current.push(ch);
  }
  const why = finish();
  if (why) return why;
  if (total > MAX_NAME_WIRE) return `it is ${total} bytes long in wire form (at most 255)`;
  return labels;
}

/** The one presentation form of a name (no final dot, minimal escapes), or why it is not a name. */
export function canonicalName(name: string): string | { error: string } {
  const labels = nameLabels(name);
  if (typeof labels === "string") return { error: labels };
  return labelsToName(labels);
}

/** The presentation form of raw labels. */
export function labelsToName(labels: readonly Uint8Array[]): string {
  return labels.map((l) => escapeLabel(l, 0, l.length)).join(".");
}

/** Case-insensitive comparison key of a canonical name (DNS ignores ASCII case, RFC 4343). */
export function nameKey(name: string): string {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

// ---- parsing ----------------------------------------------------------------------------------

/** Reads a possibly compressed name at `at`; returns it and the offset after it in the message. */
function readName(b: Uint8Array, at: number): { name: string; end: number } | WireError {
  let pos = at;
  let end = -1;
  // Every pointer must go strictly before the segment holding it: this rules out loops.
  let limit = at;
  let wire = 1;
  const parts: string[] = [];
  for (;;) {
    if (pos >= b.length) return new WireError("truncated", `name at offset ${at} runs past the end of the message`);
    const len = b[pos]!;
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) return new WireError("truncated", `compression pointer at offset ${pos} is cut off`);
      const target = ((len & 0x3f) << 8) | b[pos + 1]!;
      if (end < 0) end = pos + 2;
      if (target >= limit) return new WireError("bad-pointer", `compression pointer at offset ${pos} goes forward or loops (to ${target})`);
      limit = target;
      pos = target;
      continue;
    }
    if ((len & 0xc0) !== 0) return new WireError("bad-label-type", `label type 0x${(len & 0xc0).toString(16)} at offset ${pos} is not supported`);
    if (len === 0) {
      if (end < 0) end = pos + 1;
      return { name: parts.join("."), end };
    }
    if (pos + 1 + len > b.length) return new WireError("truncated", `label at offset ${pos} runs past the end of the message`);
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) return new WireError("name-too-long", `name at offset ${at} is longer than 255 bytes`);
    parts.push(escapeLabel(b, pos + 1, len));
    pos += 1 + len;
  }
}

const u16 = (b: Uint8Array, at: number) => (b[at]! << 8) | b[at + 1]!;
const u32 = (b: Uint8Array, at: number) => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

function parseRData(b: Uint8Array, type: number, start: number, end: number): RData | WireError {
  const bad = (what: string) => new WireError("bad-rdata", `${typeName(type)} data at offset ${start}: ${what}`);
  const nameAt = (at: number): { name: string; end: number } | WireError => {
    const r = readName(b, at);
    if (r instanceof WireError) return r;
    if (r.end > end) return bad("a name runs past the record data");
    return r;
  };
  const length = end - start;
  switch (type) {
    case RR_TYPES.A:
      return length === 4 ? { type: "A", address: formatIpv4Bytes(b.subarray(start, end)) } : bad(`length ${length}, expected 4`);
    case RR_TYPES.AAAA:
      return length === 16 ? { type: "AAAA", address: formatIpv6Bytes(b.subarray(start, end)) } : bad(`length ${length}, expected 16`);
    case RR_TYPES.CNAME:
    case RR_TYPES.NS:
    case RR_TYPES.PTR: {
      const r = nameAt(start);
      if (r instanceof WireError) return r;
      if (r.end !== end) return bad("bytes after the name");
      return type === RR_TYPES.NS ? { type: "NS", host: r.name } : { type: type === RR_TYPES.CNAME ? "CNAME" : "PTR", target: r.name };
    }
    case RR_TYPES.MX: {
      if (length < 3) return bad("too short");
      const r = nameAt(start + 2);
      if (r instanceof WireError) return r;
      if (r.end !== end) return bad("bytes after the name");
      return { type: "MX", preference: u16(b, start), exchange: r.name };
    }
    case RR_TYPES.SRV: {
      if (length < 7) return bad("too short");
      const r = nameAt(start + 6);
      if (r instanceof WireError) return r;
      if (r.end !== end) return bad("bytes after the name");
      return { type: "SRV", priority: u16(b, start), weight: u16(b, start + 2), port: u16(b, start + 4), target: r.name };
    }
    case RR_TYPES.SOA: {
      const m = nameAt(start);
      if (m instanceof WireError) return m;
      const r = nameAt(m.end);
      if (r instanceof WireError) return r;
      if (end - r.end !== 20) return bad("the five counters need exactly 20 bytes");
      const at = r.end;
      return { type: "SOA", mname: m.name, rname: r.name, serial: u32(b, at), refresh: u32(b, at + 4), retry: u32(b, at + 8), expire: u32(b, at + 12), minimum: u32(b, at + 16) };
    }
    case RR_TYPES.TXT: {
      const strings: Uint8Array[] = [];
      for (let at = start; at < end; ) {
        const n = b[at]!;
        if (at + 1 + n > end) return bad("a string runs past the record data");
        strings.push(b.slice(at + 1, at + 1 + n));
        at += 1 + n;
      }
      return { type: "TXT", strings };
    }
    default:
      return { type: "unknown", code: type, data: b.slice(start, end) };
  }
}

function parseEdns(b: Uint8Array, name: string, cls: number, ttl: number, start: number, end: number): Edns | WireError {
  if (name !== "") return new WireError("bad-opt", "OPT record with a name other than the root");
  const options: EdnsOption[] = [];
  for (let at = start; at < end; ) {
    if (at + 4 > end) return new WireError("bad-opt", `EDNS option at offset ${at} is cut off`);
    const len = u16(b, at + 2);
    if (at + 4 + len > end) return new WireError("bad-opt", `EDNS option at offset ${at} runs past the record`);
    options.push({ code: u16(b, at), data: b.slice(at + 4, at + 4 + len) });
    at += 4 + len;
  }
  return { udpPayloadSize: cls, version: (ttl >>> 16) & 0xff, dnssecOk: (ttl & 0x8000) !== 0, options };
}

/**
 * Parses a whole DNS message. Never throws: malformed input gives a WireError with a reason. The
 * result shares no memory with `input` (which may be a borrowed receive buffer).
 */
export function parseMessage(input: Uint8Array): DnsMessage | WireError {
  // A Buffer's slice() is a view: read through a plain Uint8Array so that copies are copies.
  const b = input.constructor === Uint8Array ? input : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (b.length < 12) return new WireError("truncated", `message of ${b.length} bytes is shorter than the 12-byte header`);
  const flags = u16(b, 2);
  const m: DnsMessage = {
    id: u16(b, 0),
    qr: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 15,
    aa: (flags & 0x0400) !== 0,
    tc: (flags & 0x0200) !== 0,
    rd: (flags & 0x0100) !== 0,
    ra: (flags & 0x0080) !== 0,
    ad: (flags & 0x0020) !== 0,
    cd: (flags & 0x0010) !== 0,
    rcode: flags & 15,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
    edns: null,
  };
  let pos = 12;
  const qdcount = u16(b, 4);
  for (let i = 0; i < qdcount; i++) {
    const n = readName(b, pos);
    if (n instanceof WireError) return n;
    if (n.end + 4 > b.length) return new WireError("truncated", `question ${i + 1} is cut off`);
    m.questions.push({ name: n.name, type: u16(b, n.end), class: u16(b, n.end + 2) });
    pos = n.end + 4;
  }
  const sections = [m.answers, m.authorities, m.additionals];
  for (let s = 0; s < 3; s++) {
    const count = u16(b, 6 + 2 * s);
    for (let i = 0; i < count; i++) {
      const n = readName(b, pos);
      if (n instanceof WireError) return n;
      if (n.end + 10 > b.length) return new WireError("truncated", `record at offset ${pos} is cut off`);
      const type = u16(b, n.end);
      const cls = u16(b, n.end + 2);
      const ttl = u32(b, n.end + 4);
      const rdStart = n.end + 10;
      const rdEnd = rdStart + u16(b, n.end + 8);
      if (rdEnd > b.length) return new WireError("truncated", `data of the record at offset ${pos} runs past the end of the message`);
      if (type === RR_TYPES.OPT) {
        if (s !== 2) return new WireError("bad-opt", "OPT record outside the additional section");
        if (m.edns) return new WireError("bad-opt", "more than one OPT record");
        const e = parseEdns(b, n.name, cls, ttl, rdStart, rdEnd);
        if (e instanceof WireError) return e;
        m.edns = e;
        m.rcode |= (ttl >>> 24) << 4;
      } else {
        const data = parseRData(b, type, rdStart, rdEnd);
        if (data instanceof WireError) return data;
        sections[s]!.push({ name: n.name, class: cls, ttl, data });
      }
      pos = rdEnd;
    }
  }
  return m;
}

// ---- emitting ---------------------------------------------------------------------------------

/** Thrown by emitMessage for a representation that cannot be encoded (a programming error). */
export class DnsEncodeError extends RangeError {}

class Writer {
  buf = new Uint8Array(512);
  length = 0;
  readonly #suffixes = new Map<string, number>();

  #room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    if (this.length + n > 0xffff) throw new DnsEncodeError("DNS message would be larger than 65535 bytes");
    const next = new Uint8Array(Math.min(0xffff, Math.max(this.buf.length * 2, this.length + n)));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  u8(v: number): void {
    this.#room(1);
    this.buf[this.length++] = v;
  }
  u16(v: number): void {
    this.#room(2);
    this.buf[this.length++] = (v >> 8) & 255;
    this.buf[this.length++] = v & 255;
  }
  u32(v: number): void {
    this.u16((v >>> 16) & 0xffff);
    this.u16(v & 0xffff);
  }
  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  name(name: string, compress: boolean): void {
    const labels = nameLabels(name);
    if (typeof labels === "string") throw new DnsEncodeError(`cannot encode the name '${name}': ${labels}`);
    for (let i = 0; i < labels.length; i++) {
      // The key is the escaped text of the suffix: one text per label sequence, exact case.
      const key = labels
        .slice(i)
        .map((l) => escapeLabel(l, 0, l.length))
        .join(".");
      const earlier = this.#suffixes.get(key);
      if (compress && earlier !== undefined) {
        this.u16(0xc000 | earlier);
        return;
      }
      if (this.length < 0x4000 && !this.#suffixes.has(key)) this.#suffixes.set(key, this.length);
      this.u8(labels[i]!.length);
      this.bytes(labels[i]!);
    }
    this.u8(0);
  }
  patch16(at: number, v: number): void {
    this.buf[at] = (v >> 8) & 255;
    this.buf[at + 1] = v & 255;
  }
}

function checkRange(v: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new DnsEncodeError(`${what} must be an integer from 0 to ${max}, got ${v}`);
  return v;
}

function writeRData(w: Writer, d: RData): void {
  switch (d.type) {
    case "A": {
      const b = ipv4Bytes(d.address);
      if (!b) throw new DnsEncodeError(`A record: '${d.address}' is not an IPv4 address`);
      return w.bytes(b);
    }
    case "AAAA": {
      const b = ipv6Bytes(d.address);
      if (!b) throw new DnsEncodeError(`AAAA record: '${d.address}' is not an IPv6 address`);
      return w.bytes(b);
    }
    // RFC 3597 §4: only the RFC 1035 types may have their names compressed.
    case "CNAME":
    case "PTR":
      return w.name(d.target, true);
    case "NS":
      return w.name(d.host, true);
    case "MX":
      w.u16(checkRange(d.preference, 0xffff, "MX preference"));
      return w.name(d.exchange, true);
    case "SOA":
      w.name(d.mname, true);
      w.name(d.rname, true);
      for (const v of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) w.u32(checkRange(v, 0xffffffff, "SOA counter"));
      return;
    case "SRV":
      w.u16(checkRange(d.priority, 0xffff, "SRV priority"));
      w.u16(checkRange(d.weight, 0xffff, "SRV weight"));
      w.u16(checkRange(d.port, 0xffff, "SRV port"));
      return w.name(d.target, false);
    case "TXT":
      for (const s of d.strings) {
        if (s.length > 255) throw new DnsEncodeError(`TXT string of ${s.length} bytes (at most 255)`);
        w.u8(s.length);
        w.bytes(s);
      }
      return;
    case "unknown":
      return w.bytes(d.data);
  }
}

function writeRecord(w: Writer, name: string, type: number, cls: number, ttl: number, body: (w: Writer) => void): void {
  w.name(name, true);
  w.u16(checkRange(type, 0xffff, "record type"));
  w.u16(checkRange(cls, 0xffff, "record class"));
  w.u32(checkRange(ttl, 0xffffffff, "TTL"));
  const lengthAt = w.length;
  w.u16(0);
  body(w);
  const rdLength = w.length - lengthAt - 2;
  if (rdLength > 0xffff) throw new DnsEncodeError(`record data of ${rdLength} bytes (at most 65535)`);
  w.patch16(lengthAt, rdLength);
}

/** Encodes a message, compressing names. Throws DnsEncodeError for values that cannot be encoded. */
export function emitMessage(m: DnsMessage): Uint8Array {
  if (m.rcode > 15 && !m.edns) throw new DnsEncodeError(`rcode ${m.rcode} needs EDNS (the header holds 4 bits)`);
  checkRange(m.rcode, 0xfff, "rcode");
  const w = new Writer();
  w.u16(checkRange(m.id, 0xffff, "message id"));
  const flags =
    (m.qr ? 0x8000 : 0) |
    (checkRange(m.opcode, 15, "opcode") << 11) |
    (m.aa ? 0x0400 : 0) |
    (m.tc ? 0x0200 : 0) |
    (m.rd ? 0x0100 : 0) |
    (m.ra ? 0x0080 : 0) |
    (m.ad ? 0x0020 : 0) |
    (m.cd ? 0x0010 : 0) |
    (m.rcode & 15);
  w.u16(flags);
  const additionalCount = m.additionals.length + (m.edns ? 1 : 0);
  for (const n of [m.questions.length, m.answers.length, m.authorities.length, additionalCount]) w.u16(checkRange(n, 0xffff, "section size"));
  for (const q of m.questions) {
    w.name(q.name, true);
    w.u16(checkRange(q.type, 0xffff, "question type"));
    w.u16(checkRange(q.class, 0xffff, "question class"));
  }
  for (const section of [m.answers, m.authorities, m.additionals]) {
    for (const r of section) {
      if (r.data.type === "unknown" && r.data.code === RR_TYPES.OPT) throw new DnsEncodeError("OPT goes in `edns`, not in a section");
      writeRecord(w, r.name, typeCode(r.data), r.class, r.ttl, (w) => writeRData(w, r.data));
    }
  }
  if (m.edns) {
    const e = m.edns;
    const ttl = (((m.rcode >> 4) << 24) | (checkRange(e.version, 255, "EDNS version") << 16) | (e.dnssecOk ? 0x8000 : 0)) >>> 0;
    writeRecord(w, "", RR_TYPES.OPT, checkRange(e.udpPayloadSize, 0xffff, "EDNS UDP payload size"), ttl, (w) => {
      for (const o of e.options) {
        w.u16(checkRange(o.code, 0xffff, "EDNS option code"));
        w.u16(checkRange(o.data.length, 0xffff, "EDNS option length"));
        w.bytes(o.data);
      }
    });
  }
  return w.buf.slice(0, w.length);
}

/** A standard query with recursion desired and (unless `ednsPayloadSize` is 0) an EDNS OPT record. */
export function queryMessage(id: number, name: string, type: number, ednsPayloadSize = 1232): DnsMessage {
  return {
    id,
    qr: false,
    opcode: 0,
    aa: false,
    tc: false,
    rd: true,
    ra: false,
    ad: false,
    cd: false,
    rcode: 0,
    questions: [{ name, type, class: CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
    edns: ednsPayloadSize > 0 ? { udpPayloadSize: ednsPayloadSize, version: 0, dnssecOk: false, options: [] } : null,
  };
}
