// The request a handler receives and the response it returns: small Request/Response-like
// classes without node:http, so the server runs on every target.
import type { Endpoint } from "../devices/flow.ts";
import { HttpBody } from "./body.ts";
import { HttpHeaders, type HeadersInit } from "./headers.ts";

export type BodyInit = string | Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export class HttpRequest {
  readonly method: string;
  /** The request-target exactly as sent: "/a/b?x=1", "*", or an absolute URL. */
  readonly target: string;
  /** Path of the target, still percent-encoded: "/a/b". */
  readonly path: string;
  /** Query of the target without "?", still encoded: "x=1" ("" when absent). */
  readonly query: string;
  readonly version: "1.0" | "1.1";
  readonly headers: HttpHeaders;
  /** The client, when the flow is a TCP connection. */
  readonly remote: Endpoint | null;
  readonly body: HttpBody;

  constructor(init: { method: string; target: string; version: "1.0" | "1.1"; headers: HttpHeaders; remote: Endpoint | null; body: HttpBody }) {
    this.method = init.method;
    this.target = init.target;
    this.version = init.version;
    this.headers = init.headers;
    this.remote = init.remote;
    this.body = init.body;
    let pathAndQuery = init.target;
    if (!pathAndQuery.startsWith("/")) {
      // absolute-form (proxies) keeps only the path; "*" and authority-form have none
      const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*(.*)$/.exec(pathAndQuery);
      pathAndQuery = m ? m[1] || "/" : "";
    }
    const q = pathAndQuery.indexOf("?");
    this.path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
    this.query = q < 0 ? "" : pathAndQuery.slice(q + 1);
  }

  /** The full URL, from the Host header ("localhost" when it is missing or not a valid host). */
  get url(): URL {
    const pathAndQuery = (this.path || "/") + (this.query ? `?${this.query}` : "");
    try {
      return new URL(pathAndQuery, `http://${this.headers.get("host") ?? "localhost"}`);
    } catch {
      return new URL(pathAndQuery, "http://localhost");
    }
  }

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

export interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

export class HttpResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: HttpHeaders;
  readonly body: BodyInit | null;

  constructor(body: BodyInit | null = null, init: ResponseInit = {}) {
    const status = init.status ?? 200;
    if (!Number.isInteger(status) || status < 100 || status > 999) throw new RangeError(`HTTP status ${status} must be an integer from 100 to 999`);
    const statusText = init.statusText ?? STATUS_TEXT[status] ?? "";
    if (/[\r\n]/.test(statusText)) throw new TypeError("HTTP status text must not contain CR or LF");
    this.status = status;
    this.statusText = statusText;
    this.headers = new HttpHeaders(init.headers);
    this.body = body;
    if (typeof body === "string" && !this.headers.has("content-type")) this.headers.set("content-type", "text/plain; charset=utf-8");
  }

  static text(text: string, init: ResponseInit = {}): HttpResponse {
    return new HttpResponse(text, init);
  }

  static json(value: unknown, init: ResponseInit = {}): HttpResponse {
    const headers = new HttpHeaders(init.headers);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    return new HttpResponse(JSON.stringify(value), { ...init, headers });
  }

  static redirect(location: string, status = 302): HttpResponse {
    return new HttpResponse(null, { status, headers: { location } });
  }

  static status(status: number, message?: string): HttpResponse {
    return new HttpResponse(message ?? `${status} ${STATUS_TEXT[status] ?? ""}\n`, { status });
  }
}

export const STATUS_TEXT: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
