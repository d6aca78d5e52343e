// The monitoring device (Mirage's `monitoring ?group stack`, mirage-monitoring): every
// --monitor-interval seconds, the enabled metric sources are collected and pushed as Influx line
// protocol to --monitor (one persistent TCP connection to a Telegraf socket_listener, re-created
// after an error, or UDP datagrams to InfluxDB's UDP listener), and the control port takes
// mirage-monitoring's commands. Only the Stack signature is used: kernel sockets and Oasis's own
// stack alike.
import { source } from "oasis/logs";
import { setTimer } from "oasis/sleep";
import type { Stack } from "../devices/stack.ts";
import type { TcpFlow } from "../devices/tcp.ts";
import { runtimeArg } from "../runtime/args.ts";
import { argName, defineDevice } from "../runtime/device.ts";
import { atExit } from "../runtime/hooks.ts";
import { buildInfo } from "../runtime/info.ts";
import { parseIpv4Address } from "../net/wire/address.ts";
import { parseIpv6Address } from "../net/wire/ipv6.ts";
import { handleCommand } from "./control.ts";
import { encodeLines, packLines } from "./influx.ts";
import { collectMetrics } from "./registry.ts";

const log = source("monitoring", "Metrics pushed to a collector, and the control port");

export const DEFAULT_MONITOR_PORT = 8094;
export const DEFAULT_CONTROL_PORT = 2323;
/** Whole lines per datagram, below a 1500-byte link's UDP payload even over IPv6 (1452). */
const DATAGRAM_BUDGET = 1400;
const CONTROL_LINE_MAX = 4096;
const CONTROL_TIMEOUT_MS = 10_000;
const STALL_FLOOR_MS = 2000;

export interface MonitorTarget {
  protocol: "tcp" | "udp";
  address: string;
  port: number;
}

export function formatMonitorTarget(t: MonitorTarget): string {
  return `${t.protocol}:${t.address.includes(":") ? `[${t.address}]` : t.address}:${t.port}`;
}

function checkPort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new Error(`port '${text}' is not a number from 1 to 65535`);
  return Number(text);
}

/** `[tcp:|udp:]IP[:PORT]`; IPv6 with a port in brackets (`udp:[2001:db8::1]:8089`). */
export function parseMonitorTarget(text: string): MonitorTarget {
  let rest = text.trim();
  let protocol: "tcp" | "udp" = "tcp";
  const m = /^(tcp|udp):(.*)$/i.exec(rest);
  if (m) {
    protocol = m[1]!.toLowerCase() as "tcp" | "udp";
    rest = m[2]!;
  }
  let address: string;
  let port = DEFAULT_MONITOR_PORT;
  const bracket = /^\[([^\]]*)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    address = bracket[1]!;
    if (bracket[2] !== undefined) port = checkPort(bracket[2]);
    if (parseIpv6Address(address) === null) throw new Error(`'${address}' is not an IPv6 address`);
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    address = rest;
    if (parseIpv6Address(address) === null) throw new Error(`'${address}' is not an IPv6 address (write [IPv6]:PORT to give a port)`);
  } else {
    const colon = rest.indexOf(":");
    address = colon < 0 ? rest : rest.slice(0, colon);
    if (parseIpv4Address(address) === null) throw new Error(`'${address}' is not an IP address (names are not resolved)`);
    if (colon >= 0) port = checkPort(rest.slice(colon + 1));
  }
  return { protocol, address, port };
}

export interface Monitoring {
  /** Where metrics go, or null when --monitor was not given. */
  readonly target: MonitorTarget | null;
  readonly hostname: string;
  /** The control port, or null when off. */
  readonly controlPort: number | null;
  /** Collects and sends once now (also what every tick does). Never rejects. */
  push(): Promise<void>;
  /** Stops pushing, closes the connection and the control port. */
  stop(): Promise<void>;
}

interface Config {
  target: MonitorTarget | null;
  intervalMs: number;
  hostname: string;
  controlPort: number;
  /** The flag that set it, for messages: "monitor-control-port" or "mgmt-monitor-control-port". */
  controlFlag: string;
}

class Monitor implements Monitoring {
  readonly target: MonitorTarget | null;
  readonly hostname: string;
  readonly controlPort: number | null;
  private flow: TcpFlow | null = null;
  private busy = false;
  private stopped = false;
  private cancelTick: () => void = () => undefined;
  /** Failures since the last success: the first is a warning, repeats are debug lines. */
  private failures = 0;

  constructor(
    private readonly stack: Stack,
    private readonly config: Config,
  ) {
    this.target = config.target;
    this.hostname = config.hostname;
    this.controlPort = config.controlPort === 0 ? null : config.controlPort;
  }

  start(): void {
    if (this.controlPort !== null) {
      this.stack.tcp.listen(this.controlPort, (flow) => this.control(flow));
      log.info(`control port ${this.controlPort} (--${this.config.controlFlag}; commands L, l, M, m)`);
    }
    if (this.target === null) {
      log.warn("no --monitor given: metrics are not pushed anywhere (pass --monitor=[tcp:|udp:]IP[:PORT])");
      return;
    }
    log.info(`pushing metrics to ${formatMonitorTarget(this.target)} every ${this.config.intervalMs / 1000} s as vm=${this.hostname}`);
    this.schedule();
  }

  private schedule(): void {
    // A cancellable timer rather than a sleep loop: stop() must not leave a pending tick behind.
    this.cancelTick = setTimer(this.config.intervalMs, () => {
      void this.push().then(() => {
        if (!this.stopped) this.schedule();
      });
    });
  }

  async push(): Promise<void> {
    const target = this.target;
    // A tick that finds the previous one still connecting skips rather than piling up.
    if (target === null || this.busy || this.stopped) return;
    this.busy = true;
    try {
      const lines = encodeLines(
        collectMetrics(({ source: s, error }) => log.debug(`source ${s.name}: collect failed: ${(error as Error)?.message ?? error}`)),
        { vm: this.hostname },
      );
      if (lines.length === 0) return;
      if (target.protocol === "udp") {
        for (const datagram of packLines(lines, DATAGRAM_BUDGET)) await this.stack.udp.write(target.address, target.port, datagram);
      } else {
        const flow = this.flow ?? (await this.connect(target));
        try {
          // A collector that stops reading would hold the write (and every later tick) forever.
          await within(flow.write(new TextEncoder().encode(lines.join(""))), this.stallMs(), "the write");
        } catch (e) {
          this.drop(flow);
          throw e;
        }
      }
      if (this.failures > 0) log.info(`metrics reach ${formatMonitorTarget(target)} again`);
      this.failures = 0;
    } catch (e) {
      const why = `cannot push metrics to ${formatMonitorTarget(target)}: ${(e as Error)?.message ?? e}; trying again in ${this.config.intervalMs / 1000} s`;
      if (this.failures++ === 0) log.warn(why);
      else log.debug(why);
    } finally {
      this.busy = false;
    }
  }

  private async connect(target: MonitorTarget): Promise<TcpFlow> {
    const flow = await within(this.stack.tcp.connect(target.address, target.port), this.stallMs(), "connecting", (late) => void late.close().catch(() => undefined));
    if (this.stopped) {
      await flow.close().catch(() => undefined);
      throw new Error("monitoring stopped");
    }
    this.flow = flow;
    log.debug(`connected to ${formatMonitorTarget(target)}`);
    // The collector never answers; reading is how a close or reset is noticed before the next write.
    void (async () => {
      try {
        while ((await flow.read()) !== null);
      } catch {
        // A reset: the next tick connects again.
      }
      if (this.flow === flow) {
        log.debug(`${formatMonitorTarget(target)} closed the connection`);
        this.drop(flow);
      }
    })();
    return flow;
  }

  /** How long a connect or a write may take before the connection is given up. */
  private stallMs(): number {
    return Math.max(this.config.intervalMs, STALL_FLOOR_MS);
  }

  private drop(flow: TcpFlow): void {
    if (this.flow === flow) this.flow = null;
    flow.close().catch(() => undefined);
  }

  private async control(flow: TcpFlow): Promise<void> {
    const peer = `${flow.remote.address}:${flow.remote.port}`;
    let reply: string;
    try {
      const line = await readLine(flow);
      reply = line === null ? "error: command too long or not terminated in time" : handleCommand(line);
      log.info(`control from ${peer}: ${line === null ? "(nothing)" : JSON.stringify(line.trim())} → ${reply}`);
    } catch (e) {
      log.debug(`control from ${peer}: ${(e as Error).message}`);
      await flow.close().catch(() => undefined);
      return;
    }
    try {
      await flow.write(new TextEncoder().encode(reply + "\n"));
    } finally {
      await flow.close().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTick();
    if (this.controlPort !== null) this.stack.tcp.unlisten(this.controlPort);
    const flow = this.flow;
    this.flow = null;
    if (flow) await flow.close().catch(() => undefined);
  }
}

/** `p`, or a rejection after `ms`; `late` receives what `p` still yields after that (to release it). */
async function within<T>(p: Promise<T>, ms: number, what: string, late?: (value: T) => void): Promise<T> {
  let timedOut = false;
  let cancel = () => undefined as void;
  const timeout = new Promise<never>((_, reject) => {
    cancel = setTimer(ms, () => {
      timedOut = true;
      reject(new Error(`${what} took more than ${ms / 1000} s`));
    });
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    cancel();
    if (timedOut) p.then((v) => late?.(v), () => undefined);
  }
}

/** The command: up to the first newline or the end of the stream; null when too long or too slow. */
async function readLine(flow: TcpFlow): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), CONTROL_TIMEOUT_MS)));
  try {
    for (;;) {
      const data = await Promise.race([flow.read(), timeout]);
      if (data === "timeout") return null;
      if (data === null) break;
      chunks.push(data);
      size += data.length;
      if (data.includes(0x0a)) break;
      if (size > CONTROL_LINE_MAX) return null;
    }
  } finally {
    clearTimeout(timer);
  }
  const text = new TextDecoder().decode(Buffer.concat(chunks));
  const nl = text.indexOf("\n");
  return nl < 0 ? text : text.slice(0, nl);
}

function checkedInterval(text: string): number {
  const n = Number(text);
  if (text.trim() === "" || !Number.isFinite(n) || n <= 0) throw new Error("must be more than 0");
  return n;
}

/**
 * `monitoring(stack, { group })` in config.ts. Runtime arguments (prefixed by the group):
 * --monitor, --monitor-interval, --monitor-hostname, --monitor-control-port.
 */
export const monitoringDevice = defineDevice<Record<string, never>, { stack: Stack }, Monitoring>({
  declare(_options, ctx) {
    const target = runtimeArg.custom<MonitorTarget>({
      name: argName(ctx, "monitor"),
      section: "logs",
      docv: "[tcp:|udp:]IP[:PORT]",
      doc: `Where to push metrics as Influx line protocol: over TCP to a Telegraf socket_listener (the default), or in UDP datagrams (e.g. to InfluxDB's UDP listener); port ${DEFAULT_MONITOR_PORT} unless given. Without it, no metrics are pushed`,
      expected: "an IP address with an optional protocol and port, like 192.0.2.1, tcp:192.0.2.1:8094 or udp:[2001:db8::1]:8089",
      parse: parseMonitorTarget,
      format: formatMonitorTarget,
    });
    const interval = runtimeArg.custom<number>({
      name: argName(ctx, "monitor-interval"),
      section: "logs",
      docv: "SECONDS",
      doc: "How often metrics are collected and pushed",
      expected: "a number of seconds greater than 0",
      default: 10,
      parse: checkedInterval,
      format: String,
    });
    const hostname = runtimeArg.string({
      name: argName(ctx, "monitor-hostname"),
      section: "logs",
      docv: "NAME",
      doc: "The vm tag of every metric (default: the unikernel's name)",
    });
    const controlPort = runtimeArg.int({
      name: argName(ctx, "monitor-control-port"),
      section: "logs",
      docv: "PORT",
      doc: "TCP port for mirage-monitoring's control commands (L, l, M, m); 0 turns it off. Keep it off public networks",
      default: DEFAULT_CONTROL_PORT,
      min: 0,
      max: 65535,
    });
    return async ({ stack }) => {
      const name = hostname() || buildInfo().name;
      const monitor = new Monitor(stack, { target: target() ?? null, intervalMs: interval() * 1000, hostname: name, controlPort: controlPort(), controlFlag: argName(ctx, "monitor-control-port") });
      monitor.start();
      atExit(() => monitor.stop());
      return monitor;
    };
  },
});
