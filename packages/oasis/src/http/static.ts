// Static files from any read-only KV store (crunch, direct, tar, FAT): content types, strong
// ETags from the store's digests and Last-Modified (304 on If-None-Match / If-Modified-Since),
// single byte ranges (206/416), index.html for directories, HEAD, and paths that cannot leave
// the store however they are encoded.
import { source } from "oasis/logs";
import { KvError } from "../devices/errors.ts";
import type { KvRo } from "../devices/kv.ts";
import { HttpHeaders } from "./headers.ts";
import { HttpResponse } from "./message.ts";
import type { Handler } from "./server.ts";
import type { HttpRequest } from "./message.ts";

const log = source("http-static", "Static files over HTTP");

export const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json",
  map: "application/json",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/x-icon",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  pdf: "application/pdf",
  wasm: "application/wasm",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  webm: "video/webm",
  webmanifest: "application/manifest+json",
};

export function contentTypeOf(key: string): string {
  const dot = key.lastIndexOf(".");
  const slash = key.lastIndexOf("/");
  if (dot <= slash + 1) return "application/octet-stream";
  return CONTENT_TYPES[key.slice(dot + 1).toLowerCase()] ?? "application/octet-stream";
}

export interface StaticOptions {
  /** File served for a directory. Default "index.html". */
  index?: string;
  /** Cache-Control of successful answers. Default "no-cache" (always revalidate with the ETag). */
  cacheControl?: string;
  /** Files larger than this are streamed in pieces instead of read whole. Default 1 MiB. */
  streamAbove?: number;
}

/**
 * The store key for a request path, or null when the path is not acceptable: every segment is
 * percent-decoded once, and ".", "..", empty-after-decoding, "/", "\" or NUL inside a segment
 * are refused, so no spelling of a path reaches outside the store.
 */
export function keyForPath(path: string): { key: string; directory: boolean } | null {
  if (!path.startsWith("/")) return null;
  const raw = path.slice(1).split("/");
  const directory = raw.length > 0 && raw[raw.length - 1] === "";
  const segments: string[] = [];
  for (const [i, r] of raw.entries()) {
    if (r === "") {
      if (i === raw.length - 1) break; // trailing slash
      return null; // "//" could hide a segment from a front proxy's rules
    }
    let s = r;
    if (r.includes("%")) {
      try {
        s = decodeURIComponent(r);
      } catch {
        return null;
      }
    }
    if (s === "" || s === "." || s === ".." || /[/\\\0]/.test(s)) return null;
    segments.push(s);
  }
  return { key: `/${segments.join("/")}`, directory };
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** What a successful answer for one key carries, kept while the store returns the same digest. */
interface Prepared {
  digest: Uint8Array;
  digestHex: string;
  etag: string;
  headers: HttpHeaders;
  size: number;
  /** Whole seconds: HTTP dates have no finer resolution. */
  lastModifiedS: number;
}

function etagMatches(header: string, etag: string): boolean {
  for (const part of header.split(",")) {
    const t = part.trim();
    if (t === "*" || t === etag || t === `W/${etag}`) return true;
  }
  return false;
}

/** A handler serving the files of `kv`. */
export function staticFiles(kv: KvRo, options: StaticOptions = {}): Handler {
  const index = options.index ?? "index.html";
  const cacheControl = options.cacheControl ?? "no-cache";
  const streamAbove = options.streamAbove ?? 1024 * 1024;

  const notFound = () => HttpResponse.text("404 Not Found\n", { status: 404 });

  // Stores that keep digests (crunch, memory) return the same object each time: then the ETag
  // and header set are reused instead of rebuilt per request. A new digest means new content.
  const cache = new Map<string, Prepared>();
  /** Request paths already resolved to a file ("/" → "/index.html"). */
  const routes = new Map<string, { key: string; prepared: Prepared }>();
  const prepare = async (key: string, digest: Uint8Array): Promise<Prepared> => {
    const hit = cache.get(key);
    if (hit && (hit.digest === digest || (hit.digest.length === digest.length && hit.digestHex === hex(digest)))) return hit;
    const digestHex = hex(digest);
    const etag = `"${digestHex}"`;
    const modified = await kv.lastModified(key);
    const lastModifiedS = Math.floor(modified.getTime() / 1000);
    const headers = new HttpHeaders({
      etag,
      "last-modified": new Date(lastModifiedS * 1000).toUTCString(),
      "cache-control": cacheControl,
      "content-type": contentTypeOf(key),
      "accept-ranges": "bytes",
    });
    const prepared: Prepared = { digest, digestHex, etag, headers, lastModifiedS, size: await kv.size(key) };
    if (cache.size >= 4096) cache.clear();
    cache.set(key, prepared);
    return prepared;
  };

  return async (req: HttpRequest) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return HttpResponse.text("405 Method Not Allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    const target = keyForPath(req.path);
    if (!target) return HttpResponse.text("400 Bad Request: invalid path\n", { status: 400 });
    let key = target.key;
    try {
      const routeKey = target.directory ? `${key}/` : key;
      const known = routes.get(routeKey);
      if (known) {
        // Served before: if its file still has the same digest, the path still leads there.
        const digest = await kv.digest(known.key).catch(() => null);
        if (digest !== null && (digest === known.prepared.digest || hex(digest) === known.prepared.digestHex)) return await answer(req, known.key, known.prepared);
        routes.delete(routeKey);
      }
      const kind = await kv.exists(key);
      if (kind === null) return notFound();
      if (kind === "dictionary") {
        if (!target.directory) {
          // Relative links in the index need the trailing slash.
          return new HttpResponse(null, { status: 301, headers: { location: `${req.path}/${req.query ? `?${req.query}` : ""}` } });
        }
        key = key === "/" ? `/${index}` : `${key}/${index}`;
        if ((await kv.exists(key)) !== "value") return notFound();
      } else if (target.directory) {
        return notFound(); // "/file.txt/" is not a directory
      }
      const prepared = await prepare(key, await kv.digest(key));
      if (routes.size >= 4096) routes.clear();
      routes.set(routeKey, { key, prepared });
      return await answer(req, key, prepared);
    } catch (e) {
      if (e instanceof KvError && (e.code === "not-found" || e.code === "invalid-key" || e.code === "value-expected" || e.code === "dictionary-expected")) return notFound();
      log.error(`GET ${key}: ${e instanceof Error ? e.message : String(e)}`);
      return HttpResponse.text("500 Internal Server Error\n", { status: 500 });
    }
  };

  async function answer(req: HttpRequest, key: string, prepared: Prepared): Promise<HttpResponse> {
    if (notModified(req, prepared)) {
      const headers = new HttpHeaders(prepared.headers).delete("content-type").delete("accept-ranges");
      return new HttpResponse(null, { status: 304, headers });
    }
    const size = prepared.size;
    const range = req.method === "GET" ? requestedRange(req, prepared.etag, size) : null;
    if (range === "unsatisfiable") {
      return HttpResponse.text("416 Range Not Satisfiable\n", { status: 416, headers: { "content-range": `bytes */${size}` } });
    }
    if (range) {
      const length = range.end - range.start + 1;
      const headers = new HttpHeaders(prepared.headers).set("content-range", `bytes ${range.start}-${range.end}/${size}`).set("content-length", length);
      const body = length <= streamAbove ? await kv.getPartial(key, range.start, length) : pieces(kv, key, range.start, length);
      return new HttpResponse(body, { status: 206, headers });
    }
    if (req.method === "HEAD") {
      const headers = new HttpHeaders(prepared.headers).set("content-length", size);
      return new HttpResponse(null, { headers });
    }
    if (size <= streamAbove) return new HttpResponse(await kv.get(key), { headers: prepared.headers });
    const headers = new HttpHeaders(prepared.headers).set("content-length", size);
    return new HttpResponse(pieces(kv, key, 0, size), { headers });
  }
}

/** If-None-Match (preferred) or If-Modified-Since says the client's copy is current. */
function notModified(req: HttpRequest, p: Prepared): boolean {
  const inm = req.headers.get("if-none-match");
  if (inm !== null) return etagMatches(inm, p.etag);
  const ims = req.headers.get("if-modified-since");
  if (ims === null) return false;
  const since = Date.parse(ims);
  return Number.isFinite(since) && p.lastModifiedS * 1000 <= since;
}

/**
 * A single "bytes=" range (RFC 9110 §14): null to send the whole file (no Range, a multi-range,
 * a malformed one, or an If-Range that no longer matches), or the inclusive byte span.
 */
function requestedRange(req: HttpRequest, etag: string, size: number): { start: number; end: number } | "unsatisfiable" | null {
  const header = req.headers.get("range");
  if (header === null) return null;
  const ifRange = req.headers.get("if-range");
  if (ifRange !== null && ifRange !== etag) return null;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Number(m[2]);
  if (end < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end: Math.min(end, size - 1) };
}

async function* pieces(kv: KvRo, key: string, start: number, length: number): AsyncGenerator<Uint8Array> {
  const piece = 256 * 1024;
  const end = start + length;
  for (let off = start; off < end; off += piece) {
    const chunk = await kv.getPartial(key, off, Math.min(piece, end - off));
    if (chunk.length === 0) throw new Error(`${key} became shorter while it was being sent`);
    yield chunk;
  }
}
