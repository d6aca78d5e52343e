// Wire formats: packet views, `parse → repr | WireError` and `emit(repr, buffer)` per protocol.
// Stateless; the protocol state machines live in net/<protocol>/.
export * from "./error.ts";
export * from "./checksum.ts";
export * from "./address.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./icmpv4.ts";
export * from "./udp.ts";
export * from "./dhcp.ts";
// TCP as a namespace: its byte helpers would clash with the ones above.
export * as tcp from "./tcp.ts";
