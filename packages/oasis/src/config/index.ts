// The configuration DSL, imported by config.ts.
export { typ, impl, main, register, ifImpl, matchImpl, type Typ, type Impl, type AnyImpl, type Job, type DeviceSpec, type Json, type MainOptions, type RegisterOptions } from "./impl.ts";
export { key, all, pure, grouped, Key, targetKey, netKey, dhcpKey, kvRoKey, blockKey, isUnix, type Value } from "./key.ts";
export * from "./devices.ts";
