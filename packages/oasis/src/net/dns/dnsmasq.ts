// For tests: dnsmasq (Debian's dnsmasq-base) as a real DNS server on 127.0.0.1, at a random high
// port, answering only from the records on its command line: no /etc/resolv.conf, no /etc/hosts,
// no configuration file, never forwarding anywhere. Stopped (and its directory removed) by stop()
// or at process exit.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Dnsmasq {
  readonly port: number;
  /** dnsmasq's own log (queries too, with logQueries). */
  log(): string;
  stop(): Promise<void>;
}

/** Why dnsmasq tests cannot run here, or undefined when they can (for node:test's `skip`). */
export function dnsmasqUnavailable(): string | undefined {
  const r = spawnSync("dnsmasq", ["--version"], { stdio: "ignore" });
  return r.error || r.status !== 0 ? "dnsmasq is not installed (Debian package dnsmasq-base, see .ci/setup-debian.sh)" : undefined;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export interface DnsmasqOptions {
  logQueries?: boolean;
  /** Run inside this network namespace (`ip netns exec`), e.g. a test/support/netns.ts one. */
  netns?: string;
  /** Address to listen on (default 127.0.0.1). */
  address?: string;
  /** Port (default: a random high one). */
  port?: number;
}

/** Starts dnsmasq with `records` (options such as --host-record=…, --address=/…/…). */
export async function startDnsmasq(records: readonly string[], options: DnsmasqOptions = {}): Promise<Dnsmasq> {
  const address = options.address ?? "127.0.0.1";
  for (let attempt = 0; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "oasis-dnsmasq-"));
    const port = options.port ?? 20000 + randomInt(40000);
    const logFile = join(dir, "log");
    const args = [
      "--keep-in-foreground",
      "--conf-file=/dev/null",
      `--pid-file=${join(dir, "pid")}`,
      `--port=${port}`,
      `--listen-address=${address}`,
      "--bind-interfaces",
      "--no-resolv",
      "--no-hosts",
      "--no-poll",
      `--log-facility=${logFile}`,
      ...(options.logQueries ? ["--log-queries"] : []),
      ...records,
    ];
    // `ip netns exec` execs dnsmasq in place: the child is dnsmasq itself.
    const child = options.netns ? spawn("ip", ["netns", "exec", options.netns, "dnsmasq", ...args], { stdio: ["ignore", "ignore", "pipe"] }) : spawn("dnsmasq", args, { stdio: ["ignore", "ignore", "pipe"] });
    running.add(child);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      running.delete(child);
      rmSync(dir, { recursive: true, force: true });
    };
    // Ready once it says so in its log; a port in use makes it exit at once.
    const deadline = Date.now() + 20_000;
    while (!/started, version/.test(log()) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (child.exitCode === null && /started, version/.test(log())) return { port, log, stop };
    const why = `${stderr}${log()}`.trim();
    await stop();
    if (!/in use/i.test(why) || attempt >= 5 || options.port !== undefined) throw new Error(`dnsmasq did not start on ${address} port ${port}: ${why || "no output within 20 s"}`);
  }
}
