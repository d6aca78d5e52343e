/**
 * A reliable byte stream (a TCP connection, a TLS session, a socket). Two ways to use it:
 * Mirage-style `read`/`write`, or the Web Streams `readable`/`writable` (do not mix the two
 * for the same direction).
 *
 * Errors are FlowError with code "reset", "timeout" or "closed".
 */
export interface Flow {
  /**
   * Next chunk of data (at least one byte), or `null` at end of stream. The buffer belongs to the
   * caller from then on.
   */
  read(): Promise<Uint8Array | null>;
  /**
   * Resolves when the data has been accepted into the bounded send buffer (not when it has been
   * acknowledged): awaiting it is the backpressure. The caller may reuse `data` afterwards.
   */
  write(data: Uint8Array): Promise<void>;
  writev(chunks: readonly Uint8Array[]): Promise<void>;
  /** "write" sends end-of-stream (FIN); "read" discards further input. */
  shutdown(direction: "read" | "write" | "read-write"): Promise<void>;
  /** Both directions; resolves once local resources are released. */
  close(): Promise<void>;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
}

export interface Endpoint {
  address: string;
  port: number;
}
