// oasis/http: an HTTP/1.1 server and client in plain TypeScript over any Flow.
export { serve, handleFlow, writeResponse, httpDate, HttpStats, type Handler, type HttpServer, type ServerOptions } from "./server.ts";
export { HttpRequest, HttpResponse, STATUS_TEXT, type BodyInit, type ResponseInit } from "./message.ts";
export { HttpHeaders, type HeadersInit } from "./headers.ts";
export { HttpBody } from "./body.ts";
export { HttpError } from "./errors.ts";
export { HttpConnection, ClientResponse, fetchOver, type ClientRequest, type FetchedResponse } from "./client.ts";
export { DEFAULT_HEAD_LIMITS, type HeadLimits } from "./parse.ts";
export { staticFiles, keyForPath, contentTypeOf, CONTENT_TYPES, type StaticOptions } from "./static.ts";
