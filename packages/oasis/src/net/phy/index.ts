// oasis/net/phy: network devices (TAP, in-memory switch) and Net → Net middlewares (pcap writer,
// fault injector, tracer). `withPcap(withFaults(openTap("tap0"), { loss: 0.05 }), "x.pcap")` is a Net.
export { MemorySwitch, type PortOptions, type SwitchOptions, type SwitchPort, type SwitchStats } from "./switch.ts";
export { openTap, type TapNet, type TapOptions, type TapStats } from "./tap.ts";
export { tapDevice } from "./device.ts";
export { provideTapAddon, tapAddonFile, tapBlasterFile } from "./tap-addon.ts";
export { pcapFileSink, pcapHeader, withPcap, type PcapOptions, type PcapSink } from "./pcap.ts";
export { SeededRandom, withFaults, type FaultOptions, type FaultStats, type FaultyNet } from "./faults.ts";
export { describeFrame, withTracer } from "./tracer.ts";
export { randomMac } from "./mac.ts";
