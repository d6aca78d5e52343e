// oasis/net/phy: network devices (TAP, in-memory switch) and Net → Net middlewares.
export { MemorySwitch, type PortOptions, type SwitchOptions, type SwitchPort, type SwitchStats } from "./switch.ts";
export { openTap, type TapNet, type TapOptions, type TapStats } from "./tap.ts";
export { provideTapAddon, tapAddonFile, tapBlasterFile } from "./tap-addon.ts";
export { randomMac } from "./mac.ts";
