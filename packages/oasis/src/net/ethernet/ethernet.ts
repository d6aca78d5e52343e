// Ethernet II over a Net: frames to the layer above by ethertype, with drop counters per reason.
import type { Ethernet } from "../../devices/ethernet.ts";
import { ETHERTYPE_IPV4 } from "../../devices/ethernet.ts";
import type { MacAddr, Net, NetOffload, RxOffload, TxOffload } from "../../devices/net.ts";
import { NetError } from "../../devices/errors.ts";
import { source } from "oasis/logs";
import { Counters } from "../wire/error.ts";
import { ETHERNET_HEADER_LENGTH } from "../wire/ethernet.ts";
import { formatMac } from "../wire/address.ts";

const log = source("ethernet", "Ethernet II framing");

type Handler = (src: MacAddr, payload: Uint8Array, dst: MacAddr, checksumOk: boolean) => void;
/** Receivers inside the stack: the whole frame, where the payload starts, and whether the device vouched for its transport checksum. */
type PayloadHandler = (frame: Uint8Array, offset: number, checksumOk: boolean) => void;

export class EthernetLayer implements Ethernet {
  readonly mac: MacAddr;
  readonly mtu: number;
  readonly offload: NetOffload | undefined;
  /** Drops by reason ("truncated", "not-for-us", "unknown-ethertype", "handler-error"). */
  readonly drops = new Counters();
  private readonly handlers = new Map<number, PayloadHandler>();
  /** IPv4 is most of the traffic: its receiver is called without a map lookup. */
  private ipv4: PayloadHandler | null = null;
  private readonly txBuffer: Uint8Array;
  /** The request passed down to the device, offsets moved past the Ethernet header. */
  private readonly txOffload: TxOffload = { checksumStart: 0, checksumOffset: 0, segmentSize: 0 };
  private txBusy = false;
  private closed = false;

  constructor(private readonly net: Net) {
    this.mac = net.mac.slice(0, 6);
    this.mtu = net.mtu;
    this.offload = net.offload;
    const segmented = this.offload?.segmentation === true;
    this.txBuffer = new Uint8Array(segmented ? this.offload!.maxFrame : ETHERNET_HEADER_LENGTH + this.mtu);
    this.txBuffer.set(this.mac, 6);
    net.listen((frame, rx) => this.input(frame, rx));
  }

  /**
   * `offload` (only when the device declares `offload`): offsets count from the start of the
   * payload; with a segmentation request the payload may exceed the MTU, up to maxFrame - 14.
   */
  write(dst: MacAddr, ethertype: number, fill: (payload: Uint8Array) => number, offload?: TxOffload): void {
    if (this.closed) throw new NetError("disconnected", `Ethernet layer on ${formatMac(this.mac)} is disconnected`);
    // Net.write copies or sends before returning, so one buffer serves every frame; a nested
    // write from inside `fill` gets its own.
    const frame = this.txBusy ? new Uint8Array(this.txBuffer.length) : this.txBuffer;
    this.txBusy = true;
    try {
      frame[0] = dst[0]!;
      frame[1] = dst[1]!;
      frame[2] = dst[2]!;
      frame[3] = dst[3]!;
      frame[4] = dst[4]!;
      frame[5] = dst[5]!;
      if (frame !== this.txBuffer) frame.set(this.mac, 6);
      frame[12] = ethertype >>> 8;
      frame[13] = ethertype;
      const n = fill(frame.subarray(ETHERNET_HEADER_LENGTH));
      if (offload === undefined || offload.checksumStart === 0) {
        if (!(n >= 0 && n <= this.mtu)) throw new NetError("invalid-length", `Ethernet payload of ${n} bytes does not fit the MTU ${this.mtu}`);
        this.net.write(frame.subarray(0, ETHERNET_HEADER_LENGTH + n));
        return;
      }
      const tx = this.txOffload;
      tx.checksumStart = offload.checksumStart + ETHERNET_HEADER_LENGTH;
      tx.checksumOffset = offload.checksumOffset;
      tx.segmentSize = offload.segmentSize;
      const max = tx.segmentSize > 0 ? frame.length - ETHERNET_HEADER_LENGTH : this.mtu;
      if (!(n >= 0 && n <= max)) throw new NetError("invalid-length", `Ethernet payload of ${n} bytes does not fit ${tx.segmentSize > 0 ? `the device's largest segmented frame (${max} bytes)` : `the MTU ${this.mtu}`}`);
      this.net.write(frame.subarray(0, ETHERNET_HEADER_LENGTH + n), tx);
    } finally {
      if (frame === this.txBuffer) this.txBusy = false;
    }
  }

  listen(ethertype: number, handler: Handler): void {
    this.listenPayload(ethertype, (frame, _offset, checksumOk) => handler(frame.subarray(6, 12), frame.subarray(ETHERNET_HEADER_LENGTH), frame.subarray(0, 6), checksumOk));
  }

  /**
   * Like `listen`, for receivers inside the stack (ARP, IPv4): they get the frame and the offset
   * of the payload, so no views are made per frame that they do not need.
   */
  listenPayload(ethertype: number, handler: PayloadHandler): void {
    if (ethertype === ETHERTYPE_IPV4) this.ipv4 = handler;
    else this.handlers.set(ethertype, handler);
  }

  input(frame: Uint8Array, rx?: RxOffload): void {
    if (frame.length < ETHERNET_HEADER_LENGTH) return this.drops.add("truncated");
    // Ours, broadcast, or multicast (group bit); a promiscuous link may hand us anything.
    const mine = this.mac;
    if (!(frame[0]! & 1) && !(frame[0] === mine[0] && frame[1] === mine[1] && frame[2] === mine[2] && frame[3] === mine[3] && frame[4] === mine[4] && frame[5] === mine[5])) {
      return this.drops.add("not-for-us");
    }
    const ethertype = (frame[12]! << 8) | frame[13]!;
    const checksumOk = rx !== undefined && rx.checksumOk;
    try {
      if (ethertype === ETHERTYPE_IPV4 && this.ipv4 !== null) return this.ipv4(frame, ETHERNET_HEADER_LENGTH, checksumOk);
      const handler = this.handlers.get(ethertype);
      if (handler === undefined) return this.drops.add(ethertype < 0x600 ? "not-ethernet-ii" : "unknown-ethertype");
      handler(frame, ETHERNET_HEADER_LENGTH, checksumOk);
    } catch (e) {
      this.drops.add("handler-error");
      log.error(() => `handler of ethertype 0x${ethertype.toString(16)} threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  async disconnect(): Promise<void> {
    this.closed = true;
    this.handlers.clear();
    this.ipv4 = null;
  }
}
