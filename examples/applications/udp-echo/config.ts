// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, genericStackv4v6, main, register, stackv4v6 } from "oasis/config";

// --net=socket (the default on unix) echoes through host UDP sockets; --net=direct runs Oasis's
// own stack over tap0 (static --ipv4 at boot, or --dhcp at configure time).
const stack = genericStackv4v6(defaultNetwork);

register("udp-echo", [main("./unikernel.ts", { stack: stackv4v6 })({ stack })]);
