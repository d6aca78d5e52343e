// Web Streams over Mirage-style flows. Pull-based, so a slow consumer of `readable` stops reads
// and the window of the transport closes; `writable` resolves each write only when the flow
// has accepted the chunk, so producers feel the send buffer.

export interface FlowIo {
  read(): Promise<Uint8Array | null>;
  write(data: Uint8Array): Promise<void>;
  /** End of our output (FIN). */
  shutdownWrite(): Promise<void>;
  /** Abandon input we will not read. */
  shutdownRead(): Promise<void>;
  /** Tear the flow down (e.g. reset) after an error. */
  abort(reason: unknown): Promise<void>;
}

export function readableFromFlow(io: FlowIo): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = await io.read();
        if (chunk === null) controller.close();
        else controller.enqueue(chunk);
      },
      cancel() {
        return io.shutdownRead();
      },
    },
    { highWaterMark: 0 },
  );
}

export function writableFromFlow(io: FlowIo): WritableStream<Uint8Array> {
  return new WritableStream<Uint8Array>(
    {
      write(chunk) {
        return io.write(chunk);
      },
      close() {
        return io.shutdownWrite();
      },
      abort(reason) {
        return io.abort(reason);
      },
    },
    { highWaterMark: 1 },
  );
}
