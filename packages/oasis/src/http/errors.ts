/**
 * An HTTP-level failure with the status to answer. Thrown by the parser for hostile or malformed
 * input (`reason` is a machine-readable counter key), and usable by handlers.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HttpError";
  }
}
