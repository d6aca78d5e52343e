// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, main, register, staticIpv4v6Stack, stackv4v6 } from "oasis/config";

// Oasis's own TCP/IP stack over the TAP interface tap0 with IPv6: a link-local address from the
// MAC, a static address from --ipv6 (default below), and SLAAC addresses from router
// advertisements. IPv4 (--ipv4) runs beside it in the same dual stack.
const stack = staticIpv4v6Stack(defaultNetwork, { ipv6: true, ipv6Config: { cidr: "fd00::2/64" } });

register("ping6", [main("./unikernel.ts", { stack: stackv4v6 })({ stack })]);
