// oasis/net/phy: network devices (TAP, in-memory switch) and Net → Net middlewares.
export { MemorySwitch, type PortOptions, type SwitchOptions, type SwitchPort, type SwitchStats } from "./switch.ts";
export { randomMac } from "./mac.ts";
