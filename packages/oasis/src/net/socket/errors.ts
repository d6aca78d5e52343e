// Kernel errno codes to FlowError codes, with a message that says where it happened.
import { FlowError, type FlowErrorCode } from "../../devices/errors.ts";

const CODES: Record<string, FlowErrorCode> = {
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  ECONNABORTED: "reset",
  EPIPE: "reset",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EHOSTDOWN: "unreachable",
  ENETDOWN: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  EAFNOSUPPORT: "unreachable",
  EADDRINUSE: "address-in-use",
  ERR_STREAM_DESTROYED: "closed",
  ERR_STREAM_WRITE_AFTER_END: "closed",
  ERR_SOCKET_CLOSED: "closed",
};

export function toFlowError(e: unknown, where: string): FlowError {
  if (e instanceof FlowError) return e;
  const errno = (e as NodeJS.ErrnoException | null)?.code ?? "";
  const code = CODES[errno] ?? "closed";
  const why = e instanceof Error ? e.message : String(e);
  return new FlowError(code, `${where}: ${why}`, { cause: e });
}
