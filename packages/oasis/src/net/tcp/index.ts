// oasis/tcp: Oasis's TCP over any Ip layer. `createTcp(ip, config)` for library users;
// `tcpDevice` for the generated main (config DSL: directTcp).
import type { Ip } from "../../devices/ip.ts";
import { argName, defineDevice } from "../../runtime/device.ts";
import { runtimeArg } from "../../runtime/args.ts";
import { setTimer } from "oasis/sleep";
import { nowMs } from "oasis/mtime";
import { fillRandom, randomInt } from "oasis/random";
import { source } from "oasis/logs";
import type { TcpConfig } from "./config.ts";
import type { CongestionAlgorithm } from "./congestion.ts";
import { TcpStack } from "./stack.ts";

export type { TcpConfig } from "./config.ts";
export type { TcpStats, TcpState, TcpCounters } from "./stats.ts";
export type { TcpClock } from "./timers.ts";
export type { CongestionAlgorithm } from "./congestion.ts";
export { TcpStack } from "./stack.ts";

const log = source("tcp", "Oasis TCP");

/** A TCP instance over `ip`. Defaults: CUBIC, SACK, timestamps, window scaling, MSL 1 s. */
export function createTcp(ip: Ip, config: TcpConfig = {}): TcpStack {
  return new TcpStack(ip, config, {
    clock: config.clock ?? { nowMs, setTimer },
    random: config.random ?? { fillRandom, randomInt },
    log,
  });
}

export const tcpDevice = defineDevice<Record<string, never>, { ip: Ip }, TcpStack>({
  declare(_options, ctx) {
    const congestion = runtimeArg.enum({
      name: argName(ctx, "tcp-congestion"),
      values: ["cubic", "newreno"] as const,
      default: "cubic",
      doc: "TCP congestion control algorithm.",
      section: "network",
    });
    const msl = runtimeArg.int({
      name: argName(ctx, "tcp-msl-ms"),
      min: 1,
      default: 1000,
      doc: "TCP maximum segment lifetime in milliseconds; TIME_WAIT lasts twice this.",
      section: "network",
    });
    const memory = runtimeArg.int({
      name: argName(ctx, "tcp-memory-mib"),
      min: 1,
      default: 64,
      doc: "MiB all TCP connections may hold together in buffers and advertised windows.",
      section: "network",
    });
    return async ({ ip }) => createTcp(ip, { congestionControl: congestion() as CongestionAlgorithm, mslMs: msl(), memoryLimit: memory() * 1024 * 1024 });
  },
});
