// DHCPv4 messages (RFC 2131 on BOOTP, RFC 951) with the options of RFC 2132.
import { readU16, readU32, writeU16, writeU32 } from "./address.ts";
import { WireError } from "./error.ts";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC_COOKIE = 0x63825363;
const FIXED_LENGTH = 236;
const OPTIONS_START = 240;
/** BOOTP relays and old servers expect at least a 300-byte message. */
const MIN_MESSAGE = 300;

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPDECLINE = 4;
export const DHCPACK = 5;
export const DHCPNAK = 6;
export const DHCPRELEASE = 7;
export const DHCPINFORM = 8;

export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_HOSTNAME = 12;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAMETER_REQUEST = 55;
export const OPT_MESSAGE = 56;
export const OPT_MAX_MESSAGE_SIZE = 57;
export const OPT_RENEWAL_TIME = 58;
export const OPT_REBINDING_TIME = 59;
export const OPT_CLIENT_ID = 61;
export const OPT_END = 255;

export interface DhcpOptions {
  messageType?: number;
  subnetMask?: number;
  routers?: number[];
  dnsServers?: number[];
  hostname?: string;
  requestedIp?: number;
  /** Seconds; 0xffffffff means infinite. */
  leaseTime?: number;
  serverId?: number;
  parameterRequestList?: number[];
  message?: string;
  maxMessageSize?: number;
  renewalTime?: number;
  rebindingTime?: number;
  clientId?: Uint8Array;
  /** Options this codec does not interpret, in order of appearance. */
  other?: Array<{ code: number; data: Uint8Array }>;
}

export interface DhcpRepr {
  op: number;
  xid: number;
  secs: number;
  /** The broadcast flag: the client cannot receive unicast before it is configured. */
  broadcast: boolean;
  ciaddr: number;
  yiaddr: number;
  siaddr: number;
  giaddr: number;
  /** Client hardware address (6 bytes for Ethernet). */
  chaddr: Uint8Array;
  options: DhcpOptions;
}

function addresses(code: number, data: Uint8Array): number[] | WireError {
  if (data.length === 0 || data.length % 4 !== 0) return new WireError("bad-option", `DHCP option ${code} has length ${data.length}, not a non-zero multiple of 4`);
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 4) out.push(readU32(data, i));
  return out;
}

function fixed(code: number, data: Uint8Array, length: number): WireError | null {
  return data.length === length ? null : new WireError("bad-option", `DHCP option ${code} has length ${data.length}, expected ${length}`);
}

const text = new TextDecoder("utf-8", { fatal: false });

export function parseDhcp(b: Uint8Array): DhcpRepr | WireError {
  if (b.length < OPTIONS_START) return new WireError("truncated", `DHCP message of ${b.length} bytes is shorter than the 240-byte BOOTP header`);
  const op = b[0]!;
  if (op !== BOOTREQUEST && op !== BOOTREPLY) return new WireError("bad-op", `BOOTP op ${op} is neither request (1) nor reply (2)`);
  const hlen = b[2]!;
  if (hlen > 16) return new WireError("bad-hlen", `BOOTP hardware address length ${hlen} exceeds 16`);
  if (readU32(b, FIXED_LENGTH) !== MAGIC_COOKIE) return new WireError("bad-magic", "DHCP magic cookie missing (plain BOOTP is not supported)");
  // Collect raw option data; repeated options concatenate (RFC 3396).
  const raw = new Map<number, Uint8Array>();
  const order: number[] = [];
  let i = OPTIONS_START;
  for (;;) {
    if (i >= b.length) break; // tolerate a missing END at the very end of the packet
    const code = b[i]!;
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      i++;
      continue;
    }
    if (i + 1 >= b.length) return new WireError("bad-option", `DHCP option ${code} at byte ${i} has no length byte`);
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) return new WireError("bad-option", `DHCP option ${code} at byte ${i} of length ${len} runs past the end`);
    const data = b.subarray(i + 2, i + 2 + len);
    const prev = raw.get(code);
    if (prev) {
      const joined = new Uint8Array(prev.length + len);
      joined.set(prev);
      joined.set(data, prev.length);
      raw.set(code, joined);
    } else {
      raw.set(code, data.slice());
      order.push(code);
    }
    i += 2 + len;
  }
  const options: DhcpOptions = {};
  for (const code of order) {
    const data = raw.get(code)!;
    let bad: WireError | null = null;
    switch (code) {
      case OPT_MESSAGE_TYPE:
        bad = fixed(code, data, 1);
        if (!bad) {
          if (data[0]! < 1 || data[0]! > 8) bad = new WireError("bad-message-type", `DHCP message type ${data[0]} is not 1–8`);
          else options.messageType = data[0]!;
        }
        break;
      case OPT_SUBNET_MASK:
      case OPT_REQUESTED_IP:
      case OPT_SERVER_ID:
        bad = fixed(code, data, 4);
        if (!bad) {
          const v = readU32(data, 0);
          if (code === OPT_SUBNET_MASK) options.subnetMask = v;
          else if (code === OPT_REQUESTED_IP) options.requestedIp = v;
          else options.serverId = v;
        }
        break;
      case OPT_LEASE_TIME:
      case OPT_RENEWAL_TIME:
      case OPT_REBINDING_TIME:
        bad = fixed(code, data, 4);
        if (!bad) {
          const v = readU32(data, 0);
          if (code === OPT_LEASE_TIME) options.leaseTime = v;
          else if (code === OPT_RENEWAL_TIME) options.renewalTime = v;
          else options.rebindingTime = v;
        }
        break;
      case OPT_ROUTER:
      case OPT_DNS: {
        const list = addresses(code, data);
        if (list instanceof WireError) bad = list;
        else if (code === OPT_ROUTER) options.routers = list;
        else options.dnsServers = list;
        break;
      }
      case OPT_MAX_MESSAGE_SIZE:
        bad = fixed(code, data, 2);
        if (!bad) options.maxMessageSize = readU16(data, 0);
        break;
      case OPT_HOSTNAME:
        options.hostname = text.decode(data);
        break;
      case OPT_MESSAGE:
        options.message = text.decode(data);
        break;
      case OPT_PARAMETER_REQUEST:
        options.parameterRequestList = [...data];
        break;
      case OPT_CLIENT_ID:
        options.clientId = data;
        break;
      default:
        (options.other ??= []).push({ code, data });
    }
    if (bad) return bad;
  }
  return {
    op,
    xid: readU32(b, 4),
    secs: readU16(b, 8),
    broadcast: (b[10]! & 0x80) !== 0,
    ciaddr: readU32(b, 12),
    yiaddr: readU32(b, 16),
    siaddr: readU32(b, 20),
    giaddr: readU32(b, 24),
    chaddr: b.slice(28, 28 + hlen),
    options,
  };
}

const utf8 = new TextEncoder();

function encodedOptions(o: DhcpOptions): Array<[number, Uint8Array]> {
  const out: Array<[number, Uint8Array]> = [];
  const u32 = (v: number) => {
    const d = new Uint8Array(4);
    writeU32(d, 0, v);
    return d;
  };
  const list = (vs: number[]) => {
    const d = new Uint8Array(vs.length * 4);
    vs.forEach((v, k) => writeU32(d, k * 4, v));
    return d;
  };
  if (o.messageType !== undefined) out.push([OPT_MESSAGE_TYPE, new Uint8Array([o.messageType])]);
  if (o.clientId !== undefined) out.push([OPT_CLIENT_ID, o.clientId]);
  if (o.requestedIp !== undefined) out.push([OPT_REQUESTED_IP, u32(o.requestedIp)]);
  if (o.serverId !== undefined) out.push([OPT_SERVER_ID, u32(o.serverId)]);
  if (o.subnetMask !== undefined) out.push([OPT_SUBNET_MASK, u32(o.subnetMask)]);
  if (o.routers !== undefined && o.routers.length > 0) out.push([OPT_ROUTER, list(o.routers)]);
  if (o.dnsServers !== undefined && o.dnsServers.length > 0) out.push([OPT_DNS, list(o.dnsServers)]);
  if (o.leaseTime !== undefined) out.push([OPT_LEASE_TIME, u32(o.leaseTime)]);
  if (o.renewalTime !== undefined) out.push([OPT_RENEWAL_TIME, u32(o.renewalTime)]);
  if (o.rebindingTime !== undefined) out.push([OPT_REBINDING_TIME, u32(o.rebindingTime)]);
  if (o.maxMessageSize !== undefined) {
    const d = new Uint8Array(2);
    writeU16(d, 0, o.maxMessageSize);
    out.push([OPT_MAX_MESSAGE_SIZE, d]);
  }
  if (o.hostname !== undefined) out.push([OPT_HOSTNAME, utf8.encode(o.hostname)]);
  if (o.message !== undefined) out.push([OPT_MESSAGE, utf8.encode(o.message)]);
  if (o.parameterRequestList !== undefined) out.push([OPT_PARAMETER_REQUEST, new Uint8Array(o.parameterRequestList)]);
  for (const { code, data } of o.other ?? []) out.push([code, data]);
  return out;
}

/** Length of the buffer `emitDhcp` needs for `repr`. */
export function dhcpLength(repr: DhcpRepr): number {
  let n = OPTIONS_START + 1;
  for (const [, data] of encodedOptions(repr.options)) n += 2 * Math.max(1, Math.ceil(data.length / 255)) + data.length;
  return Math.max(n, MIN_MESSAGE);
}

/** Writes the message into `b` (zeroed, at least dhcpLength(repr) long); returns its length. */
export function emitDhcp(repr: DhcpRepr, b: Uint8Array): number {
  if (repr.chaddr.length > 16) throw new RangeError(`DHCP chaddr of ${repr.chaddr.length} bytes exceeds 16`);
  b.fill(0, 0, OPTIONS_START);
  b[0] = repr.op;
  b[1] = 1; // Ethernet
  b[2] = repr.chaddr.length;
  b[3] = 0;
  writeU32(b, 4, repr.xid);
  writeU16(b, 8, repr.secs);
  writeU16(b, 10, repr.broadcast ? 0x8000 : 0);
  writeU32(b, 12, repr.ciaddr);
  writeU32(b, 16, repr.yiaddr);
  writeU32(b, 20, repr.siaddr);
  writeU32(b, 24, repr.giaddr);
  b.set(repr.chaddr, 28);
  writeU32(b, FIXED_LENGTH, MAGIC_COOKIE);
  let i = OPTIONS_START;
  for (const [code, data] of encodedOptions(repr.options)) {
    // Options longer than 255 bytes are split into consecutive instances (RFC 3396).
    let off = 0;
    do {
      const len = Math.min(255, data.length - off);
      b[i] = code;
      b[i + 1] = len;
      b.set(data.subarray(off, off + len), i + 2);
      i += 2 + len;
      off += len;
    } while (off < data.length);
  }
  b[i++] = OPT_END;
  const length = Math.max(i, MIN_MESSAGE);
  b.fill(0, i, length);
  return length;
}
