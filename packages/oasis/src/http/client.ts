// A small HTTP/1.1 client over any Flow, or over a Tcp given a URL. One request per connection
// unless the caller reuses the flow (responses are read in order).
import type { Flow } from "../devices/flow.ts";
import type { Tcp } from "../devices/tcp.ts";
import { BodyReader, HttpBody } from "./body.ts";
import { HttpError } from "./errors.ts";
import { HttpHeaders, type HeadersInit } from "./headers.ts";
import { bodyFraming, DEFAULT_HEAD_LIMITS, findHeadEnd, parseStatusHead } from "./parse.ts";
import { FlowReader } from "./reader.ts";

export interface ClientRequest {
  method?: string;
  /** Origin-form target: "/path?query". */
  target: string;
  headers?: HeadersInit;
  body?: string | Uint8Array;
  /** Longest wait for each piece of the response. Default 30 s. */
  timeoutMs?: number;
  /** Largest response body accepted. Default 64 MiB. */
  maxBodyBytes?: number;
}

export class ClientResponse {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly headers: HttpHeaders,
    readonly body: HttpBody,
  ) {}
  bytes(): Promise<Uint8Array> {
    return this.body.bytes();
  }
  text(): Promise<string> {
    return this.body.text();
  }
  json(): Promise<unknown> {
    return this.body.json();
  }
}

const encoder = new TextEncoder();

/** Reads responses from a flow (keeps buffered bytes between responses). */
export class HttpConnection {
  readonly flow: Flow;
  readonly #reader: FlowReader;

  constructor(flow: Flow) {
    this.flow = flow;
    this.#reader = new FlowReader(flow);
  }

  /** Closes the connection (and its response timer). */
  async close(): Promise<void> {
    this.#reader.dispose();
    await this.flow.close();
  }

  /** Sends a request and reads the response head; the body is read from the result. */
  async request(req: ClientRequest): Promise<ClientResponse> {
    const method = req.method ?? "GET";
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method)) throw new TypeError(`invalid HTTP method ${JSON.stringify(method)}`);
    if (!/^[^\x00-\x20\x7f]+$/.test(req.target)) throw new TypeError(`invalid request target ${JSON.stringify(req.target)}: percent-encode spaces and control characters`);
    const headers = new HttpHeaders(req.headers);
    const body = typeof req.body === "string" ? encoder.encode(req.body) : req.body;
    if (body) headers.set("content-length", body.length);
    else if (method === "POST" || method === "PUT") headers.set("content-length", 0);
    const head = encoder.encode(headers.serializeInto(`${method} ${req.target} HTTP/1.1\r\n`) + "\r\n");
    if (body && body.length > 0) await this.flow.writev([head, body]);
    else await this.flow.write(head);
    return this.#readResponse(method, req.timeoutMs ?? 30_000, req.maxBodyBytes ?? 64 * 1024 * 1024);
  }

  async #readResponse(method: string, timeoutMs: number, maxBodyBytes: number): Promise<ClientResponse> {
    const r = this.#reader;
    const limits = { ...DEFAULT_HEAD_LIMITS, maxRequestLineBytes: DEFAULT_HEAD_LIMITS.maxHeaderBytes };
    let timedOut = false;
    const onTimeout = () => {
      timedOut = true;
      void this.flow.close();
    };
    for (;;) {
      let end = r.available > 0 ? findHeadEnd(r.buf, r.pos, limits) : -1;
      while (end < 0) {
        if (!(await r.fill(timeoutMs, onTimeout))) {
          throw new HttpError(502, timedOut ? "response-timeout" : "response-truncated", timedOut ? `no response within ${timeoutMs} ms` : "the server closed the connection before a complete response head");
        }
        end = findHeadEnd(r.buf, r.pos, limits);
      }
      const head = parseStatusHead(r.buf, r.pos, end, limits);
      r.pos = end;
      if (head.status >= 100 && head.status < 200) continue; // 100 Continue and other interim answers
      const bodyless = method === "HEAD" || head.status === 204 || head.status === 304;
      const framing = bodyless ? ({ kind: "none" } as const) : bodyFraming(head.headers, head.minor, maxBodyBytes, false);
      const body = new BodyReader(r, framing, { maxBodyBytes, timeoutMs, onTimeout, maxTrailerBytes: limits.maxHeaderBytes });
      return new ClientResponse(head.status, head.statusText, head.headers, new HttpBody(body));
    }
  }
}

/** A response read completely. */
export interface FetchedResponse {
  status: number;
  statusText: string;
  headers: HttpHeaders;
  body: Uint8Array;
  text(): string;
  json(): unknown;
}

/**
 * Requests `url` over `tcp` with Connection: close and reads the whole response. The host must
 * be an IP address (there is no DNS here).
 */
export async function fetchOver(tcp: Tcp, url: string | URL, init: Omit<ClientRequest, "target"> = {}): Promise<FetchedResponse> {
  const u = new URL(url);
  if (u.protocol !== "http:") throw new TypeError(`fetchOver: only http: URLs are supported, not ${u.protocol} (wrap the flow in TLS yourself)`);
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (!/^[\d.]+$/.test(host) && !host.includes(":")) throw new TypeError(`fetchOver: '${host}' is not an IP address; resolve the name first`);
  const flow = await tcp.connect(host, u.port ? Number(u.port) : 80);
  const headers = new HttpHeaders(init.headers);
  if (!headers.has("host")) headers.set("host", u.host);
  headers.set("connection", "close");
  const conn = new HttpConnection(flow);
  try {
    const response = await conn.request({ ...init, target: `${u.pathname}${u.search}`, headers });
    const body = await response.bytes();
    const text = () => new TextDecoder().decode(body);
    return { status: response.status, statusText: response.statusText, headers: response.headers, body, text, json: () => JSON.parse(text()) as unknown };
  } finally {
    await conn.close();
  }
}
