// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, dnsClient, genericDnsClient, genericStackv4v6, main, register } from "oasis/config";

// --net=socket (the default on unix) asks through host UDP/TCP sockets; --net=direct through
// Oasis's own stack over tap0. The servers to ask come from --dns-servers at boot.
const stack = genericStackv4v6(defaultNetwork);
const dns = genericDnsClient(stack);

register("dns", [main("./unikernel.ts", { dns: dnsClient })({ dns })]);
