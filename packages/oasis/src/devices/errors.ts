// One error class per device family. Every class carries a machine-readable `code`, so callers
// branch on `err.code` and counters can be keyed by it; the message says what, where and what to do.

export class DeviceError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type NetErrorCode = "invalid-length" | "disconnected" | "unavailable";
export class NetError extends DeviceError<NetErrorCode> {}

export type IpErrorCode = "no-route" | "would-fragment" | "invalid-address";
export class IpError extends DeviceError<IpErrorCode> {}

export type ArpErrorCode = "timeout";
export class ArpError extends DeviceError<ArpErrorCode> {}

/** Errors of flows and of connection set-up (TCP, sockets). */
export type FlowErrorCode = "refused" | "timeout" | "reset" | "closed" | "address-in-use" | "unreachable";
export class FlowError extends DeviceError<FlowErrorCode> {}

export type BlockErrorCode = "out-of-range" | "misaligned" | "read-only" | "disconnected" | "io" | "integrity";
export class BlockError extends DeviceError<BlockErrorCode> {}

export type KvErrorCode =
  | "not-found"
  | "dictionary-expected"
  | "value-expected"
  | "no-space"
  | "rename-source-prefix"
  | "already-present"
  | "invalid-key"
  | "read-only"
  | "io";
export class KvError extends DeviceError<KvErrorCode> {
  constructor(
    code: KvErrorCode,
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
