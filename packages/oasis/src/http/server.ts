// An HTTP/1.1 server over any Flow (kernel socket, Oasis TCP, TLS): keep-alive and pipelining
// (requests are answered one after the other, in order), chunked bodies both ways, HTTP/1.0,
// HEAD, and limits and deadlines so that hostile or slow clients cost little and crash nothing.
import { source } from "oasis/logs";
import { nowMs as wallClockMs } from "oasis/ptime";
import { nowMs } from "oasis/mtime";
import type { Endpoint, Flow } from "../devices/flow.ts";
import type { Tcp, TcpFlow, TcpListenOptions } from "../devices/tcp.ts";
import { BodyReader, HttpBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import { HttpHeaders } from "./headers.ts";
import { HttpRequest, HttpResponse, STATUS_TEXT } from "./message.ts";
import { bodyFraming, DEFAULT_HEAD_LIMITS, findHeadEnd, parseRequestHead, type HeadLimits } from "./parse.ts";
import { FlowReader } from "./reader.ts";

const log = source("http", "HTTP/1.1 server");

export type Handler = (request: HttpRequest) => HttpResponse | Response | Promise<HttpResponse | Response>;

export interface ServerOptions extends Partial<HeadLimits> {
  /** Largest request body accepted (413 beyond). Default 16 MiB. */
  maxBodyBytes?: number;
  /** Time to receive a complete request head once it started (or after connecting). Default 10 s. */
  headerTimeoutMs?: number;
  /** Time a kept-alive connection may wait for the next request. Default 5 s. */
  idleTimeoutMs?: number;
  /** Longest wait for the next piece of a request body. Default 30 s. */
  bodyTimeoutMs?: number;
  /** Unread request body the server discards to keep a connection alive; more closes it. Default 256 KiB. */
  maxDrainBytes?: number;
  /** Counters shared by connections (one per server by default). */
  stats?: HttpStats;
}

/** Counters: connections, requests, and rejected requests per reason ("bad-request-line", …). */
export class HttpStats {
  connections = 0;
  requests = 0;
  readonly rejected: Record<string, number> = {};
  count(reason: string): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  }
}

interface Settings extends HeadLimits {
  maxBodyBytes: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  bodyTimeoutMs: number;
  maxDrainBytes: number;
  stats: HttpStats;
}

function settings(o: ServerOptions): Settings {
  return {
    maxRequestLineBytes: o.maxRequestLineBytes ?? DEFAULT_HEAD_LIMITS.maxRequestLineBytes,
    maxHeaderBytes: o.maxHeaderBytes ?? DEFAULT_HEAD_LIMITS.maxHeaderBytes,
    maxHeaderCount: o.maxHeaderCount ?? DEFAULT_HEAD_LIMITS.maxHeaderCount,
    maxBodyBytes: o.maxBodyBytes ?? 16 * 1024 * 1024,
    headerTimeoutMs: o.headerTimeoutMs ?? 10_000,
    idleTimeoutMs: o.idleTimeoutMs ?? 5_000,
    bodyTimeoutMs: o.bodyTimeoutMs ?? 30_000,
    maxDrainBytes: o.maxDrainBytes ?? 256 * 1024,
    stats: o.stats ?? new HttpStats(),
  };
}

const encoder = new TextEncoder();
const CRLF = encoder.encode("\r\n");
const LAST_CHUNK = encoder.encode("0\r\n\r\n");
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
/** Bodies up to this size go out in the same write as the head. */
const COALESCE_BYTES = 16 * 1024;
/** Framing fields the server computes itself. */
const FRAMING = new Set(["content-length", "transfer-encoding", "connection"]);

let dateSecond = -1;
let dateValue = "";
/** IMF-fixdate of the current second (cached: one Date per second, not per response). */
export function httpDate(): string {
  const second = Math.floor(wallClockMs() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

function skipEmptyLines(reader: FlowReader): void {
  // RFC 9112 §2.2: ignore CRLFs before a request line (some clients send one after a body).
  while (reader.available > 0 && (reader.buf[reader.pos] === 13 || reader.buf[reader.pos] === 10)) {
    if (reader.buf[reader.pos] === 13 && reader.available >= 2 && reader.buf[reader.pos + 1] !== 10) return;
    reader.pos++;
  }
}

/**
 * Serves HTTP on one connection until it closes, the client asks to close, or a deadline
 * passes. Never rejects: failures are answered (4xx/5xx), counted and logged.
 */
export async function handleFlow(flow: Flow, handler: Handler, options: ServerOptions = {}): Promise<void> {
  const s = settings(options);
  s.stats.connections++;
  const remote: Endpoint | null = "remote" in flow ? (flow as TcpFlow).remote : null;
  const reader = new FlowReader(flow);
  const state = { closing: false };
  const closeFlow = () => {
    if (state.closing) return;
    state.closing = true;
    flow.close().catch(() => {});
  };
  const answerTimeout = () => {
    if (state.closing) return;
    s.stats.count("header-timeout");
    state.closing = true;
    void writeError(flow, new HttpError(408, "header-timeout", "request head not received in time")).finally(() => flow.close().catch(() => {}));
  };
  const bodyOptions = {
    maxBodyBytes: s.maxBodyBytes,
    timeoutMs: s.bodyTimeoutMs,
    onTimeout: () => {
      s.stats.count("body-timeout");
      closeFlow();
    },
    maxTrailerBytes: s.maxHeaderBytes,
  };
  try {
    let first = true;
    for (;;) {
      // 1. A complete head.
      let headEnd = -1;
      let deadline = 0;
      for (;;) {
        skipEmptyLines(reader);
        if (reader.available > 0) {
          headEnd = findHeadEnd(reader.buf, reader.pos, s);
          if (headEnd >= 0) break;
        }
        let got: boolean;
        if (reader.available === 0 && !first) {
          got = await reader.fill(s.idleTimeoutMs, closeFlow);
        } else {
          if (deadline === 0) deadline = nowMs() + s.headerTimeoutMs;
          const left = deadline - nowMs();
          if (left <= 0) {
            answerTimeout();
            return;
          }
          got = await reader.fill(left, answerTimeout);
        }
        if (!got) {
          if (reader.available > 0 && !state.closing) s.stats.count("truncated-head");
          closeFlow();
          return;
        }
      }
      first = false;
      const head = parseRequestHead(reader.buf, reader.pos, headEnd, s);
      reader.pos = headEnd;
      s.stats.requests++;
      if (head.minor === 1) {
        const hosts = head.headers.getAll("host").length;
        if (hosts !== 1) throw new HttpError(400, "bad-host", hosts === 0 ? "HTTP/1.1 requests need a Host header" : "more than one Host header");
      }
      const framing = bodyFraming(head.headers, head.minor, s.maxBodyBytes, true);
      const expect = head.headers.get("expect");
      const wantsContinue = expect !== null && head.minor === 1 && expect.toLowerCase() === "100-continue";
      if (expect !== null && !wantsContinue) throw new HttpError(417, "bad-expect", `cannot meet Expect: ${expect.slice(0, 40)}`);
      const bodyReader = new BodyReader(reader, framing, bodyOptions, wantsContinue ? () => flow.write(CONTINUE) : undefined);
      const request = new HttpRequest({
        method: head.method,
        target: head.target,
        version: head.minor === 1 ? "1.1" : "1.0",
        headers: head.headers,
        remote,
        body: new HttpBody(bodyReader),
      });
      let keepAlive = head.minor === 1 ? !head.headers.hasToken("connection", "close") : head.headers.hasToken("connection", "keep-alive");

      // 2. The handler's answer (errors become 4xx/5xx).
      let response: HttpResponse;
      try {
        response = toHttpResponse(await handler(request));
      } catch (e) {
        if (e instanceof HttpError) {
          // From the request body (framing broken: close) or thrown by the handler on purpose.
          if (bodyReader.failed) s.stats.count(e.reason);
          response = errorResponse(e, bodyReader.failed);
        } else {
          log.error(`handler failed on ${head.method} ${head.target.slice(0, 200)}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
          response = HttpResponse.status(500);
        }
      }
      if (bodyReader.failed || response.headers.hasToken("connection", "close")) keepAlive = false;
      // A client waiting for 100 Continue may never send the body: do not wait for it.
      if (wantsContinue && !bodyReader.started && !bodyReader.done) keepAlive = false;

      // 3. The response, then the rest of the request body if the connection stays.
      keepAlive = await writeResponse(flow, response, head.method, head.minor, keepAlive);
      if (keepAlive && !bodyReader.done && !(await bodyReader.drain(s.maxDrainBytes))) keepAlive = false;
      if (!keepAlive || state.closing) {
        closeFlow();
        return;
      }
    }
  } catch (e) {
    if (e instanceof HttpError && !state.closing) {
      s.stats.count(e.reason);
      log.debug(() => `rejected request from ${remote ? `${remote.address}:${remote.port}` : "a flow"}: ${e.status} ${e.message}`);
      await writeError(flow, e);
    } else if (!state.closing) {
      log.debug(() => `connection ended: ${e instanceof Error ? e.message : String(e)}`);
    }
    closeFlow();
  } finally {
    reader.dispose();
  }
}

function errorResponse(e: HttpError, close = true): HttpResponse {
  return new HttpResponse(`${e.status} ${STATUS_TEXT[e.status] ?? "Error"}: ${e.message}\n`, { status: e.status, headers: close ? { connection: "close" } : {} });
}

async function writeError(flow: Flow, e: HttpError): Promise<void> {
  try {
    await writeResponse(flow, errorResponse(e), "GET", 1, false);
  } catch {
    // the client is gone
  }
}

function toHttpResponse(r: unknown): HttpResponse {
  if (r instanceof HttpResponse) return r;
  if (typeof Response !== "undefined" && r instanceof Response) {
    return new HttpResponse(r.body, { status: r.status, statusText: r.statusText || undefined, headers: [...r.headers] });
  }
  throw new TypeError(`the HTTP handler returned ${r === null ? "null" : typeof r}; it must return an HttpResponse (or a Response)`);
}

/** Writes one response; returns whether the connection can carry another request. */
export async function writeResponse(flow: Flow, response: HttpResponse, method: string, minor: 0 | 1, keepAlive: boolean): Promise<boolean> {
  const status = response.status;
  const bodyless = status < 200 || status === 204 || status === 304;
  const sendBody = !bodyless && method !== "HEAD";
  const body = response.body;
  let bytes: Uint8Array | null = null;
  let stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | null = null;
  if (typeof body === "string") bytes = encoder.encode(body);
  else if (body instanceof Uint8Array) bytes = body;
  else if (body !== null) stream = body;

  let head = `HTTP/1.1 ${status} ${response.statusText}\r\n`;
  head = response.headers.serializeInto(head, FRAMING);
  if (!response.headers.has("date")) head += `date: ${httpDate()}\r\n`;
  let declaredLength = -1;
  let chunked = false;
  if (!bodyless) {
    if (bytes) {
      head += `content-length: ${bytes.length}\r\n`;
    } else {
      const cl = response.headers.get("content-length");
      if (cl !== null && /^\d{1,15}$/.test(cl)) {
        declaredLength = Number(cl);
        head += `content-length: ${cl}\r\n`;
      } else if (!stream) {
        head += "content-length: 0\r\n";
      } else if (minor === 1) {
        chunked = true;
        if (sendBody) head += "transfer-encoding: chunked\r\n";
      } else {
        keepAlive = false; // HTTP/1.0: the end of the body is the end of the connection
      }
    }
  }
  head += keepAlive ? (minor === 0 ? "connection: keep-alive\r\n\r\n" : "\r\n") : "connection: close\r\n\r\n";

  if (bytes && sendBody && bytes.length <= COALESCE_BYTES) {
    // Head and body in one buffer and one write; the head is ASCII unless a value has obs-text.
    const out = new Uint8Array(head.length + bytes.length);
    const { read, written } = encoder.encodeInto(head, out);
    if (read === head.length && written === head.length) {
      out.set(bytes, written);
      await flow.write(out);
      return keepAlive;
    }
  }
  const headBytes = encoder.encode(head);
  if (!sendBody || (!bytes && !stream)) {
    if (stream) await discard(stream);
    await flow.write(headBytes);
    return keepAlive;
  }
  if (bytes) {
    await flow.writev([headBytes, bytes]);
    return keepAlive;
  }
  await flow.write(headBytes);
  let sent = 0;
  try {
    for await (const chunk of iterate(stream!)) {
      if (chunk.length === 0) continue;
      sent += chunk.length;
      if (declaredLength >= 0 && sent > declaredLength) {
        throw new Error(`response body is longer than its Content-Length ${declaredLength}`);
      }
      if (chunked) await flow.writev([encoder.encode(`${chunk.length.toString(16)}\r\n`), chunk, CRLF]);
      else await flow.write(chunk);
    }
  } catch (e) {
    // The head is out: the only honest signal left is to cut the connection.
    throw new Error(`response body failed after the head was sent: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (declaredLength >= 0 && sent !== declaredLength) {
    throw new Error(`response body of ${sent} bytes is shorter than its Content-Length ${declaredLength}`);
  }
  if (chunked) await flow.write(LAST_CHUNK);
  return keepAlive;
}

async function* iterate(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (body instanceof ReadableStream) {
    const r = body.getReader();
    let finished = false;
    try {
      for (;;) {
        const { done, value } = await r.read();
        if (done) {
          finished = true;
          return;
        }
        yield value;
      }
    } finally {
      // The client went away mid-body: tell the producer to stop.
      if (!finished) await r.cancel().catch(() => {});
      r.releaseLock();
    }
  } else {
    yield* body;
  }
}

async function discard(body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Promise<void> {
  try {
    if (body instanceof ReadableStream) await body.cancel();
    else await body[Symbol.asyncIterator]().return?.();
  } catch {
    // nothing to release
  }
}

export interface HttpServer {
  readonly port: number;
  readonly stats: HttpStats;
  /** Stops accepting connections (open ones finish their current exchange). */
  close(): void;
}

/** Listens on `port` of a Tcp (socket stack or Oasis's own) and serves `handler` on every connection. */
export function serve(tcp: Tcp, port: number, handler: Handler, options: ServerOptions & { listen?: TcpListenOptions } = {}): HttpServer {
  const stats = options.stats ?? new HttpStats();
  const o = { ...options, stats };
  tcp.listen(
    port,
    (flow) => {
      // Responses are written whole: Nagle would only delay the last segment of each.
      flow.setNoDelay(true);
      return handleFlow(flow, handler, o);
    },
    options.listen,
  );
  return { port, stats, close: () => tcp.unlisten(port) };
}

export { HttpHeaders };
