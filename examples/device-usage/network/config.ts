// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, genericStackv4v6, main, register, stackv4v6 } from "oasis/config";

// --net=socket (the default on unix) uses the host's kernel sockets; --net=direct runs Oasis's own
// TCP/IP stack over the TAP interface tap0 (static --ipv4, or --dhcp=true at configure time).
const stack = genericStackv4v6(defaultNetwork);

register("network", [main("./unikernel.ts", { stack: stackv4v6 })({ stack })]);
