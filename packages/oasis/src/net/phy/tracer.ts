// withTracer: logs a one-line summary of every frame in and out at debug level (source
// "net.trace"), e.g. `tap0 rx 60B 5e:…:01 > ff:ff:ff:ff:ff:ff ARP`. Costs one comparison per frame
// when debug logging is off.
import type { Net, RxOffload, TxOffload } from "../../devices/net.ts";
import { source } from "oasis/logs";
import { macToString } from "./mac.ts";

const log = source("net.trace", "one line per Ethernet frame (enable with -l net.trace:debug)");

const ETHERTYPES: Record<number, string> = { 0x0800: "IPv4", 0x0806: "ARP", 0x86dd: "IPv6", 0x8100: "VLAN", 0x88cc: "LLDP" };
const IP_PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6" };

/** A short human description of an Ethernet frame; never throws, whatever the bytes. */
export function describeFrame(frame: Uint8Array): string {
  if (frame.length < 14) return `runt ${frame.length}B`;
  const type = (frame[12]! << 8) | frame[13]!;
  let what = ETHERTYPES[type] ?? `type 0x${type.toString(16).padStart(4, "0")}`;
  if (type === 0x0800 && frame.length >= 34) {
    const dotted = (o: number) => `${frame[o]}.${frame[o + 1]}.${frame[o + 2]}.${frame[o + 3]}`;
    what += ` ${dotted(26)} > ${dotted(30)} ${IP_PROTOCOLS[frame[23]!] ?? `proto ${frame[23]}`}`;
  } else if (type === 0x0806 && frame.length >= 42) {
    what += frame[21] === 1 ? ` who-has ${frame.subarray(38, 42).join(".")}` : frame[21] === 2 ? ` ${frame.subarray(28, 32).join(".")} is-at ${macToString(frame.subarray(22, 28))}` : "";
  } else if (type === 0x86dd && frame.length >= 54) {
    what += ` ${IP_PROTOCOLS[frame[20]!] ?? `next ${frame[20]}`}`;
  }
  return `${frame.length}B ${macToString(frame.subarray(6, 12))} > ${macToString(frame.subarray(0, 6))} ${what}`;
}

/** Whether frames would be logged now (devices wrap themselves in withTracer only then). */
export function tracingEnabled(): boolean {
  return log.enabled("debug");
}

export function withTracer(net: Net, name = "net"): Net {
  return {
    mac: net.mac,
    mtu: net.mtu,
    ...(net.offload ? { offload: net.offload } : {}),
    write(frame: Uint8Array, offload?: TxOffload): void {
      if (log.enabled("debug")) log.debug(`${name} tx ${describeFrame(frame)}${offload?.segmentSize ? ` (to cut into ${offload.segmentSize}-byte segments)` : ""}`);
      net.write(frame, offload);
    },
    listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void {
      net.listen((frame, offload) => {
        if (log.enabled("debug")) log.debug(`${name} rx ${describeFrame(frame)}${offload?.segmentSize ? ` (${offload.segmentSize}-byte segments merged)` : ""}`);
        handler(frame, offload);
      });
    },
    stats: () => net.stats(),
    resetStats: () => net.resetStats(),
    disconnect: () => net.disconnect(),
  };
}
