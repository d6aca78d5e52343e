export { runtimeArg, type Reader, type Section } from "./args.ts";
export { defineDevice, argName, connectDevice, ConnectError, type DeviceModule, type DeviceContext, type Connect } from "./device.ts";
export { buildInfo, type BuildInfo } from "./info.ts";
export { atExit } from "./hooks.ts";
