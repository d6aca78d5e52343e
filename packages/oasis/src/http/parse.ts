// Parsing of HTTP/1.x message heads (RFC 9112). Pure functions over bytes already received:
// finding the end of a head under size limits, and validating request/status lines and fields.
import { HttpError } from "./errors.ts";
import { HttpHeaders, isToken } from "./headers.ts";
import { latin1 } from "./reader.ts";

export interface HeadLimits {
  /** Longest request line (method, target, version) before 414. */
  maxRequestLineBytes: number;
  /** Largest head (request line and fields) before 431. */
  maxHeaderBytes: number;
  /** Most header fields before 431. */
  maxHeaderCount: number;
}

export const DEFAULT_HEAD_LIMITS: HeadLimits = { maxRequestLineBytes: 8192, maxHeaderBytes: 16384, maxHeaderCount: 100 };

const LF = 10;
const CR = 13;

/**
 * Where the head starting at `start` ends (index after the empty line), or -1 if incomplete.
 * Throws HttpError 414/431 when the limits are already exceeded by what is buffered.
 */
export function findHeadEnd(buf: Uint8Array, start: number, limits: HeadLimits): number {
  const firstLf = buf.indexOf(LF, start);
  if (firstLf < 0) {
    if (buf.length - start > limits.maxRequestLineBytes) throw tooLongLine(limits);
    return -1;
  }
  if (firstLf - start > limits.maxRequestLineBytes) throw tooLongLine(limits);
  let lf = firstLf;
  for (;;) {
    // An empty line (CRLF right after the previous LF) ends the head.
    if (buf[lf + 1] === CR && buf[lf + 2] === LF) {
      if (lf === start || buf[lf - 1] !== CR) throw new HttpError(400, "bare-line-feed", "lines must end with CRLF");
      const end = lf + 3;
      if (end - start > limits.maxHeaderBytes + 2) throw tooLargeHead(limits);
      return end;
    }
    if (buf[lf + 1] === LF) throw new HttpError(400, "bare-line-feed", "lines must end with CRLF");
    const next = buf.indexOf(LF, lf + 1);
    if (next < 0) {
      if (buf.length - start > limits.maxHeaderBytes) throw tooLargeHead(limits);
      return -1;
    }
    lf = next;
  }
}

function tooLongLine(limits: HeadLimits): HttpError {
  return new HttpError(414, "request-line-too-long", `request line longer than ${limits.maxRequestLineBytes} bytes`);
}

function tooLargeHead(limits: HeadLimits): HttpError {
  return new HttpError(431, "header-too-large", `request header section larger than ${limits.maxHeaderBytes} bytes`);
}

export interface RequestHead {
  method: string;
  target: string;
  /** Minor version: 0 or 1. */
  minor: 0 | 1;
  headers: HttpHeaders;
}

const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) HTTP\/(\d)\.(\d)$/;
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Splits a complete head into lines, checking every line ends in CRLF. */
function headLines(buf: Uint8Array, start: number, end: number): string[] {
  const text = latin1(buf, start, end - 4); // without the final CRLF CRLF
  const lines = text.split("\r\n");
  for (const line of lines) {
    if (line.includes("\n") || line.includes("\r")) throw new HttpError(400, "bare-line-feed", "lines must end with CRLF");
  }
  return lines;
}

function parseFields(lines: string[], first: number, limits: HeadLimits): HttpHeaders {
  const count = lines.length - first;
  if (count > limits.maxHeaderCount) {
    throw new HttpError(431, "too-many-headers", `more than ${limits.maxHeaderCount} header fields`);
  }
  const names: string[] = new Array(count);
  const values: string[] = new Array(count);
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon <= 0) {
      if (line.length > 0 && (line[0] === " " || line[0] === "\t")) throw new HttpError(400, "obsolete-line-folding", "header line folding is not allowed");
      throw new HttpError(400, "bad-header", `header line without a name and colon: ${JSON.stringify(line.slice(0, 40))}`);
    }
    const name = line.slice(0, colon);
    if (!isToken(name)) throw new HttpError(400, "bad-header-name", `invalid header name ${JSON.stringify(name.slice(0, 40))}`);
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) throw new HttpError(400, "bad-header-value", `invalid characters in header ${name}`);
    names[i - first] = name.toLowerCase();
    values[i - first] = value;
  }
  return HttpHeaders.trusted(names, values);
}

/** Parses a complete request head buf[start, end). Throws HttpError with the status to answer. */
export function parseRequestHead(buf: Uint8Array, start: number, end: number, limits: HeadLimits): RequestHead {
  const lines = headLines(buf, start, end);
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m) {
    const looksLikeVersion = /^\S+ \S+ HTTP\/\d+\.\d+$/.test(lines[0]!);
    throw new HttpError(looksLikeVersion ? 505 : 400, looksLikeVersion ? "unsupported-version" : "bad-request-line", "malformed request line");
  }
  if (m[3] !== "1") throw new HttpError(505, "unsupported-version", `HTTP/${m[3]}.${m[4]} is not supported; use HTTP/1.1`);
  const headers = parseFields(lines, 1, limits);
  return { method: m[1]!, target: m[2]!, minor: m[4] === "0" ? 0 : 1, headers };
}

export interface StatusHead {
  status: number;
  statusText: string;
  minor: 0 | 1;
  headers: HttpHeaders;
}

export function parseStatusHead(buf: Uint8Array, start: number, end: number, limits: HeadLimits): StatusHead {
  const lines = headLines(buf, start, end);
  const m = STATUS_LINE.exec(lines[0]!);
  if (!m) throw new HttpError(502, "bad-status-line", `malformed status line ${JSON.stringify(lines[0]!.slice(0, 60))}`);
  return { status: Number(m[2]), statusText: m[3] ?? "", minor: m[1] === "0" ? 0 : 1, headers: parseFields(lines, 1, limits) };
}

export type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | { kind: "close" };

const NO_BODY: Framing = { kind: "none" };

/** Message body framing from Transfer-Encoding / Content-Length (RFC 9112 §6.3), strictly. */
export function bodyFraming(headers: HttpHeaders, minor: 0 | 1, maxBodyBytes: number, isRequest: boolean): Framing {
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== null) {
    if (cl !== null) throw new HttpError(400, "length-and-chunked", "both Transfer-Encoding and Content-Length are present");
    if (minor === 0 && isRequest) throw new HttpError(400, "chunked-in-http10", "Transfer-Encoding is not allowed in HTTP/1.0");
    const codings = te.split(",").map((c) => c.trim().toLowerCase());
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new HttpError(isRequest ? 501 : 502, "unsupported-transfer-encoding", `unsupported Transfer-Encoding ${JSON.stringify(te)}; only chunked is implemented`);
    }
    return { kind: "chunked" };
  }
  if (cl !== null) {
    const parts = cl.split(",").map((p) => p.trim());
    if (!parts.every((p) => /^\d{1,15}$/.test(p)) || !parts.every((p) => p === parts[0])) {
      throw new HttpError(400, "bad-content-length", `invalid Content-Length ${JSON.stringify(cl.slice(0, 40))}`);
    }
    const length = Number(parts[0]);
    if (length > maxBodyBytes) throw new HttpError(413, "body-too-large", `body of ${length} bytes exceeds the limit of ${maxBodyBytes}`);
    return length === 0 ? NO_BODY : { kind: "length", length };
  }
  return isRequest ? NO_BODY : { kind: "close" };
}
