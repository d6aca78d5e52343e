// oasis >= 0.1.0 & < 0.2.0
import { defaultNetwork, genericStackv4v6, main, monitor, monitoring, register, stackv4v6 } from "oasis/config";

// One stack for the service and for monitoring. Where the control port must stay off the public
// network, give monitoring a stack of its own: monitoring(genericStackv4v6(netif("tap1", { group:
// "mgmt" }), { group: "mgmt" }), { group: "mgmt" }), and boot with --mgmt-monitor=….
const stack = genericStackv4v6(defaultNetwork);

register("monitoring", [main("./unikernel.ts", { stack: stackv4v6, monitoring: monitor })({ stack, monitoring: monitoring(stack) })]);
