// ICMPv4: answers echo requests, reports unreachable ports and protocols (rate limited), and
// hands every valid message to an observer.
import type { Icmp } from "../../devices/ip.ts";
import { source } from "oasis/logs";
import { Counters, WireError } from "../wire/error.ts";
import { internetChecksum } from "../wire/checksum.ts";
import { ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, ICMP_HEADER_LENGTH, ICMP_PARAMETER_PROBLEM, ICMP_TIME_EXCEEDED, parseIcmpv4 } from "../wire/icmpv4.ts";
import type { Clock } from "../stack/clock.ts";

const log = source("icmpv4", "ICMP for IPv4");

/** What the ICMP layer needs from IPv4 (kept narrow so the two stay testable apart). */
export interface IcmpIp {
  write(dst: string, proto: number, payload: Uint8Array | readonly Uint8Array[], options?: { src?: string; ttl?: number }): void;
  /** An error message (unreachable, time exceeded, parameter problem) quoting `quote`, for the protocol that sent it. */
  reportError?(type: number, code: number, rest: number, quote: Uint8Array, reporter: string): void;
}

export interface IcmpOptions {
  /** Error messages per second (token bucket refill, default 100). */
  errorsPerSecond?: number;
  /** Error burst (bucket size, default 20). */
  errorBurst?: number;
  /** Answer echo requests (default true). */
  echoReplies?: boolean;
}

type Observer = (src: string, dst: string, message: Uint8Array) => void;

export class Icmpv4Layer implements Icmp {
  readonly counters = new Counters();
  private observer: Observer | null = null;
  private tokens: number;
  private lastRefill: number;
  private readonly rate: number;
  private readonly burst: number;
  private readonly echo: boolean;

  constructor(
    private readonly ip: IcmpIp,
    private readonly clock: Clock,
    options: IcmpOptions = {},
  ) {
    this.rate = options.errorsPerSecond ?? 100;
    this.burst = options.errorBurst ?? 20;
    this.echo = options.echoReplies ?? true;
    this.tokens = this.burst;
    this.lastRefill = clock.nowMs();
  }

  write(dst: string, message: Uint8Array, options?: { src?: string; ttl?: number }): void {
    if (message.length < ICMP_HEADER_LENGTH) throw new RangeError(`ICMP message of ${message.length} bytes: it needs at least the 8-byte header`);
    message[2] = 0;
    message[3] = 0;
    const c = internetChecksum(message);
    message[2] = c >>> 8;
    message[3] = c;
    this.ip.write(dst, 1, message, options);
  }

  listen(handler: Observer): void {
    this.observer = handler;
  }

  /** `unicastToUs`: false for broadcast/multicast destinations, which get no echo reply. */
  input(src: string, dst: string, message: Uint8Array, unicastToUs: boolean): void {
    const r = parseIcmpv4(message);
    if (r instanceof WireError) return this.counters.add(r.reason);
    if (r.type === ICMP_ECHO_REQUEST) {
      this.counters.add("echo-request");
      if (this.echo && unicastToUs) {
        const reply = new Uint8Array(message.length);
        reply.set(message);
        reply[0] = ICMP_ECHO_REPLY;
        reply[2] = 0;
        reply[3] = 0;
        const c = internetChecksum(reply);
        reply[2] = c >>> 8;
        reply[3] = c;
        try {
          this.ip.write(src, 1, reply, { src: dst });
          this.counters.add("echo-reply");
        } catch (e) {
          this.counters.add("send-failed");
          log.debug(() => `echo reply to ${src} not sent: ${e instanceof Error ? e.message : String(e)}`);
        }
      }
    } else if (r.type === ICMP_DEST_UNREACHABLE || r.type === ICMP_TIME_EXCEEDED || r.type === ICMP_PARAMETER_PROBLEM) {
      this.counters.add(r.type === ICMP_DEST_UNREACHABLE ? "unreachable-received" : r.type === ICMP_TIME_EXCEEDED ? "time-exceeded-received" : "parameter-problem-received");
      log.debug(() => `ICMP type ${r.type} code ${r.code} from ${src}`);
      // RFC 1122 §3.2.2: errors go to the transport protocol that sent the quoted datagram.
      this.ip.reportError?.(r.type, r.code, r.rest, r.data, src);
    }
    if (this.observer) {
      try {
        this.observer(src, dst, message);
      } catch (e) {
        this.counters.add("handler-error");
        log.error(() => `ICMP listener threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  }

  /**
   * Sends an error about `datagram` (the offending IP packet, header included) to its source,
   * quoting the header and the first 8 bytes of payload (RFC 792). Rate limited; false if dropped.
   */
  sendError(type: number, code: number, rest: number, datagram: Uint8Array, headerLength: number, to: string, from: string): boolean {
    const now = this.clock.nowMs();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.rate) / 1000);
    this.lastRefill = now;
    if (this.tokens < 1) {
      this.counters.add("error-rate-limited");
      return false;
    }
    this.tokens -= 1;
    const quote = datagram.subarray(0, Math.min(datagram.length, headerLength + 8));
    const msg = new Uint8Array(ICMP_HEADER_LENGTH + quote.length);
    msg[0] = type;
    msg[1] = code;
    msg[4] = rest >>> 24;
    msg[5] = rest >>> 16;
    msg[6] = rest >>> 8;
    msg[7] = rest;
    msg.set(quote, ICMP_HEADER_LENGTH);
    try {
      this.write(to, msg, { src: from });
      this.counters.add(`sent-${type}-${code}`);
      return true;
    } catch (e) {
      this.counters.add("send-failed");
      return false;
    }
  }
}
