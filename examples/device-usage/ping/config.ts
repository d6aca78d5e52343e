// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, dhcpIpv4v6Stack, dhcpKey, ifImpl, main, register, staticIpv4v6Stack, stackv4v6 } from "oasis/config";

// Oasis's own TCP/IP stack over the TAP interface tap0: a static address from --ipv4 at boot, or,
// configured with --dhcp, an address leased from a DHCP server.
const stack = ifImpl(dhcpKey, dhcpIpv4v6Stack(defaultNetwork), staticIpv4v6Stack(defaultNetwork, { ipv4Config: { cidr: "10.0.0.2/24" } }));

register("ping", [main("./unikernel.ts", { stack: stackv4v6 })({ stack })]);
