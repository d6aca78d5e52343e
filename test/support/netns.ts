// Network-namespace harness for integration tests against the Linux kernel stack.
//
//   import { withNetns, netnsUnavailable } from "../../../../test/support/netns.ts";
//
//   it("answers ping", { skip: netnsUnavailable() }, () =>
//     withNetns(async (ns) => {
//       const tap = ns.openTap();                  // a TapNet (oasis/net/phy) for ns.tap, usable here
//       … run your stack on `tap` …
//       await ns.exec("ping", ["-c", "1", "-W", "2", "192.0.2.2"]);   // the kernel is the peer
//     }, { kernelAddress: "192.0.2.1/24" }));
//
// withNetns(fn, options) creates a namespace named oasis-<pid>-<random> with loopback up and a
// persistent TAP (options.tap, default "tap0") whose kernel side has options.kernelAddress (one
// CIDR or a list; IPv6 is disabled on the TAP unless an IPv6 address is given, so no router
// solicitations show up in tests). There is no route out. Everything it started (processes, the
// namespace) is removed when fn settles, throws, or runs past options.timeoutMs (default 60 s),
// and at process exit.
//
// Inside fn, `ns` offers:
//   ns.name, ns.tap, ns.kernelAddress ("192.0.2.1/24"), ns.kernelIp ("192.0.2.1"), ns.kernelMac()
//   ns.openTap(options?)              open the TAP from this process (oasis/net/phy openTap, netns set)
//   ns.exec(cmd, args, {input, timeoutMs, check})   run to completion inside; throws on exit ≠ 0
//   ns.spawn(cmd, args, {env, cwd})   start a process inside → NsProcess (output, waitFor, stop)
//   ns.node(script, args)             a TypeScript/JS file run with node --import tsx inside
//   ns.run(binary, args)              a built unikernel (dist/NAME) inside, args e.g. --ipv4=…
//   ns.tmpDir                         scratch directory, removed with the namespace
//   ns.netem({ delayMs, lossPercent, … })   a netem qdisc on the kernel side of the TAP (kernels
//                                     without sch_netem: netemUnavailable() says so; inject faults
//                                     with withFaults from oasis/net/phy instead)
//   ns.rateLimit("10mbit")            a tbf qdisc limiting what the kernel sends into the TAP
//   ns.congest("20mbit")              a bottleneck both ways (tbf on the TAP, and on an ifb its
//                                     ingress is redirected to); returns a reader of the drops
//   ns.capture({ filter })            tshark on the TAP; stop() returns the decoded text (frames
//                                     sent by tap-blaster bypass it: it skips the qdisc and taps)
//
// netnsUnavailable() returns undefined when the harness can run, else a reason to pass to
// node:test's `skip` (not root, no /dev/net/tun, no `ip`).
//
// Frames the kernel sends reach ns.openTap() only while the TAP is open; a process that opens
// the TAP itself (ns.node / ns.run) must run inside the namespace, as those do.
// measureTapRx / blast (test/support/tap-ceiling.ts) measure the raw kernel → TAP → JS rate.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openTap, type TapNet, type TapOptions } from "oasis/net/phy";

export interface NetnsOptions {
  /** Address(es) of the kernel side of the TAP, e.g. "192.0.2.1/24" or ["192.0.2.1/24", "2001:db8::1/64"]. */
  kernelAddress?: string | readonly string[];
  /** TAP name inside the namespace (default "tap0"). */
  tap?: string;
  /** MTU of the TAP (default 1500). */
  mtu?: number;
  /** Cleanup happens and withNetns rejects after this long (default 60 000 ms). */
  timeoutMs?: number;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface NsProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the match once the output matches `pattern`; rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface NetemOptions {
  delayMs?: number;
  jitterMs?: number;
  lossPercent?: number;
  duplicatePercent?: number;
  reorderPercent?: number;
  corruptPercent?: number;
  /** Rate limit, e.g. "10mbit". */
  rate?: string;
  /** Queue length in packets. */
  limit?: number;
}

export interface Capture {
  /** Stops tshark and returns `tshark -r` output for the capture (one line per frame, or `extra` args). */
  stop(extra?: readonly string[]): Promise<string>;
  /** The pcap file (kept until the namespace is cleaned up). */
  readonly file: string;
}

export interface Netns {
  readonly name: string;
  readonly tap: string;
  readonly kernelAddress: string;
  readonly kernelIp: string;
  kernelMac(): Promise<string>;
  openTap(options?: Omit<TapOptions, "netns">): TapNet;
  exec(cmd: string, args?: readonly string[], options?: { input?: string; timeoutMs?: number; check?: boolean }): Promise<ExecResult>;
  spawn(cmd: string, args?: readonly string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string }): NsProcess;
  node(script: string, args?: readonly string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string }): NsProcess;
  run(binary: string, args?: readonly string[], options?: { env?: NodeJS.ProcessEnv; cwd?: string }): NsProcess;
  netem(options: NetemOptions): Promise<void>;
  rateLimit(rate: string, options?: { burst?: string; latencyMs?: number }): Promise<void>;
  /**
   * Makes the link a bottleneck that drops what overflows, in both directions (the stand-in for
   * netem loss where the kernel has none). Resolves with a function reading the packets dropped so
   * far toward the TAP's owner (toStack) and from it (fromStack).
   */
  congest(rate: string): Promise<() => Promise<{ toStack: number; fromStack: number }>>;
  capture(options?: { filter?: string }): Promise<Capture>;
  /** A scratch directory removed with the namespace. */
  readonly tmpDir: string;
}

/** Undefined when withNetns can run here; otherwise why not (use as node:test `skip`). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return "network-namespace tests need root (run the suite as root or in CI)";
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return "/dev/net/tun is missing (modprobe tun, or give the container --device /dev/net/tun)";
  }
  if (spawnSync("ip", ["-V"]).status !== 0) return "the `ip` tool (iproute2) is not installed; run .ci/setup-debian.sh";
  return undefined;
}

let netemReason: string | undefined | null = null;

/** Undefined when the kernel has the netem qdisc; otherwise why ns.netem cannot work here. */
export function netemUnavailable(): string | undefined {
  if (netemReason !== null) return netemReason;
  netemReason = undefined;
  try {
    const config = gunzipSync(readFileSync("/proc/config.gz")).toString("latin1");
    if (!/^CONFIG_NET_SCH_NETEM=[ym]$/m.test(config)) {
      netemReason = "this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM is not set); inject faults with withFaults from oasis/net/phy";
    }
  } catch {
    // No /proc/config.gz: assume a distribution kernel, which ships netem as a module.
  }
  return netemReason;
}

function ip(args: readonly string[]): void {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${(r.stderr || r.stdout || String(r.error)).trim()}`);
}

// Namespaces still alive, removed at exit even if the test runner is interrupted.
const live = new Map<string, () => void>();
process.on("exit", () => {
  for (const cleanup of live.values()) cleanup();
});
let signalsHooked = false;
function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  // Killed by the runner (timeout, Ctrl-C): 'exit' handlers do not run on a signal by default.
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      for (const cleanup of live.values()) cleanup();
      process.exit(code);
    });
  }
}

/** Removes namespaces left by earlier test processes that died without cleaning up. */
function removeStale(): void {
  if (!existsSync("/var/run/netns")) return;
  for (const name of readdirSync("/var/run/netns")) {
    const m = /^oasis-(\d+)-[0-9a-f]+$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      spawnSync("ip", ["netns", "del", name]);
    }
  }
}

function startProcess(nsName: string, cmd: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string }, track: Set<NsProcess>): NsProcess {
  // detached: its own process group, so stop() reaches grandchildren too.
  const child = spawn("ip", ["netns", "exec", nsName, cmd, ...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  const watchers = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString("utf8");
    for (const w of [...watchers]) w();
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("error", (e) => {
      out += `\n[spawn error: ${e.message}]`;
      done = true;
      resolve({ code: null, signal: null });
      for (const w of [...watchers]) w();
    });
    child.on("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
      for (const w of [...watchers]) w();
    });
  });
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      /* already gone */
    }
  };
  const proc: NsProcess = {
    pid: child.pid ?? -1,
    child,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) finish(() => resolve(m));
          else if (done) finish(() => reject(new Error(`${cmd} exited before printing ${pattern}; its output:\n${out}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${cmd} did not print ${pattern} within ${timeoutMs} ms; its output:\n${out}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          watchers.delete(check);
          f();
        };
        watchers.add(check);
        check();
      });
    },
    async stop(graceMs = 2000) {
      if (done) return;
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      kill("SIGKILL"); // stragglers in the group
    },
  };
  track.add(proc);
  void exited.then(() => track.delete(proc));
  return proc;
}

/** Runs `fn` with a fresh namespace and TAP; cleans everything up however fn ends. */
/** A second namespace behind a test's namespace: see addRoutedPeer. */
export interface RoutedPeer {
  /** Its name, for `ip netns exec NAME …` (through ns.spawn, so the process is stopped with ns). */
  readonly name: string;
  readonly ipv4: string;
  readonly ipv6: string;
  /** Deletes the namespace (also done by the stale-namespace sweep if the process dies). */
  remove(): void;
}

/**
 * Puts a host behind `ns`, which becomes a router (forwarding on, both families): a veth pair
 * pm0 (in ns: 198.51.100.1/24, 2001:db8:1::1/64, MTU `routerMtu`) ↔ pm1 (in the peer:
 * 198.51.100.2/24, 2001:db8:1::2/64, MTU 1500, default routes via ns). With a small router MTU
 * the peer's MSS says nothing of the bottleneck, so only path MTU discovery finds it. The name
 * extends ns's with a hex digit, so removeStale also sweeps it. Call remove() when done.
 */
export async function addRoutedPeer(ns: Netns, options: { routerMtu: number }): Promise<RoutedPeer> {
  const name = `${ns.name}f`;
  ip(["netns", "add", name]);
  const peer: RoutedPeer = { name, ipv4: "198.51.100.2", ipv6: "2001:db8:1::2", remove: () => void spawnSync("ip", ["netns", "del", name]) };
  try {
    ip(["-n", ns.name, "link", "add", "pm0", "mtu", String(options.routerMtu), "type", "veth", "peer", "name", "pm1", "netns", name]);
    ip(["-n", ns.name, "addr", "add", "198.51.100.1/24", "dev", "pm0"]);
    ip(["-n", ns.name, "addr", "add", "2001:db8:1::1/64", "dev", "pm0", "nodad"]);
    ip(["-n", ns.name, "link", "set", "pm0", "up"]);
    ip(["-n", name, "link", "set", "lo", "up"]);
    ip(["-n", name, "addr", "add", "198.51.100.2/24", "dev", "pm1"]);
    ip(["-n", name, "addr", "add", "2001:db8:1::2/64", "dev", "pm1", "nodad"]);
    ip(["-n", name, "link", "set", "pm1", "up"]);
    ip(["-n", name, "route", "add", "default", "via", "198.51.100.1"]);
    ip(["-n", name, "-6", "route", "add", "default", "via", "2001:db8:1::1"]);
    await ns.exec("sysctl", ["-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
  } catch (e) {
    peer.remove();
    throw e;
  }
  return peer;
}

export async function withNetns<T>(fn: (ns: Netns) => Promise<T>, options: NetnsOptions = {}): Promise<T> {
  const unavailable = netnsUnavailable();
  if (unavailable) throw new Error(`withNetns: ${unavailable}`);
  removeStale();
  const name = `oasis-${process.pid}-${randomBytes(4).toString("hex")}`;
  const tap = options.tap ?? "tap0";
  const addresses = options.kernelAddress === undefined ? ["192.0.2.1/24"] : typeof options.kernelAddress === "string" ? [options.kernelAddress] : [...options.kernelAddress];
  const ipv6 = addresses.some((a) => a.includes(":"));
  const processes = new Set<NsProcess>();
  const taps = new Set<TapNet>();
  const tmpDir = mkdtempSync(join(tmpdir(), `${name}-`));

  const cleanupSync = () => {
    for (const p of processes) {
      try {
        if (p.child.pid) process.kill(-p.child.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    spawnSync("ip", ["netns", "del", name]);
    // Namespaces made beside this one (addRoutedPeer) extend its name: they go with it, also
    // when the test is abandoned on a timeout before its own finally runs.
    if (existsSync("/var/run/netns")) for (const other of readdirSync("/var/run/netns")) if (other.startsWith(name)) spawnSync("ip", ["netns", "del", other]);
    rmSync(tmpDir, { recursive: true, force: true });
    live.delete(name);
  };
  live.set(name, cleanupSync);
  hookSignals();

  const inside = (cmd: string, args: readonly string[]) => {
    const r = spawnSync("ip", ["netns", "exec", name, cmd, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} in ${name} failed: ${(r.stderr || r.stdout).trim()}`);
  };

  try {
    ip(["netns", "add", name]);
    ip(["-n", name, "link", "set", "lo", "up"]);
    ip(["-n", name, "tuntap", "add", "mode", "tap", "name", tap]);
    if (options.mtu) ip(["-n", name, "link", "set", tap, "mtu", String(options.mtu)]);
    if (!ipv6) inside("sysctl", ["-q", "-w", `net.ipv6.conf.${tap}.disable_ipv6=1`]);
    for (const a of addresses) ip(["-n", name, "addr", "add", a, "dev", tap, ...(a.includes(":") ? ["nodad"] : [])]);
    ip(["-n", name, "link", "set", tap, "up"]);
  } catch (e) {
    cleanupSync();
    throw e;
  }

  const ns: Netns = {
    name,
    tap,
    tmpDir,
    kernelAddress: addresses[0]!,
    kernelIp: addresses[0]!.split("/")[0]!,
    async kernelMac() {
      const r = await ns.exec("cat", [`/sys/class/net/${tap}/address`]);
      return r.stdout.trim();
    },
    openTap(tapOptions = {}) {
      const net = openTap(tap, { ...tapOptions, netns: name });
      taps.add(net);
      return net;
    },
    exec(cmd, args = [], o = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn("ip", ["netns", "exec", name, cmd, ...args], { stdio: [o.input === undefined ? "ignore" : "pipe", "pipe", "pipe"], detached: true });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
        const timeoutMs = o.timeoutMs ?? 20_000;
        const timer = setTimeout(() => {
          try {
            if (child.pid) process.kill(-child.pid, "SIGKILL");
          } catch {
            /* gone */
          }
          reject(new Error(`${cmd} ${args.join(" ")} did not finish within ${timeoutMs} ms in ${name}; output:\n${stdout}${stderr}`));
        }, timeoutMs);
        child.on("error", (e) => {
          clearTimeout(timer);
          reject(new Error(`cannot run ${cmd} in ${name}: ${e.message}`));
        });
        child.on("close", (code) => {
          clearTimeout(timer);
          const result = { code: code ?? -1, stdout, stderr };
          if ((o.check ?? true) && code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited with ${code} in ${name}:\n${stdout}${stderr}`));
          else resolve(result);
        });
        if (child.stdin) {
          child.stdin.on("error", () => {}); // a command that exits without reading its input
          child.stdin.end(o.input);
        }
      });
    },
    spawn: (cmd, args = [], o = {}) => startProcess(name, cmd, args, o, processes),
    node: (script, args = [], o = {}) => startProcess(name, process.execPath, ["--import", "tsx", script, ...args], o, processes),
    run: (binary, args = [], o = {}) => startProcess(name, binary, args, o, processes),
    async netem(n) {
      const reason = netemUnavailable();
      if (reason) throw new Error(`ns.netem: ${reason}`);
      const args = ["qdisc", "replace", "dev", tap, "root", "netem"];
      if (n.limit !== undefined) args.push("limit", String(n.limit));
      if (n.delayMs !== undefined) args.push("delay", `${n.delayMs}ms`, ...(n.jitterMs ? [`${n.jitterMs}ms`] : []));
      if (n.lossPercent !== undefined) args.push("loss", `${n.lossPercent}%`);
      if (n.duplicatePercent !== undefined) args.push("duplicate", `${n.duplicatePercent}%`);
      if (n.reorderPercent !== undefined) args.push("reorder", `${n.reorderPercent}%`);
      if (n.corruptPercent !== undefined) args.push("corrupt", `${n.corruptPercent}%`);
      if (n.rate !== undefined) args.push("rate", n.rate);
      await ns.exec("tc", args);
    },
    async rateLimit(rate, o = {}) {
      await ns.exec("tc", ["qdisc", "replace", "dev", tap, "root", "tbf", "rate", rate, "burst", o.burst ?? "32kbit", "latency", `${o.latencyMs ?? 50}ms`]);
    },
    async congest(rate) {
      const shape = ["rate", rate, "burst", "4kb", "latency", "2ms"];
      await ns.exec("tc", ["qdisc", "replace", "dev", tap, "root", "tbf", ...shape]);
      await ns.exec("ip", ["link", "add", "ifb0", "type", "ifb"]);
      await ns.exec("ip", ["link", "set", "ifb0", "up"]);
      await ns.exec("tc", ["qdisc", "add", "dev", tap, "handle", "ffff:", "ingress"]);
      await ns.exec("tc", ["filter", "add", "dev", tap, "parent", "ffff:", "protocol", "all", "u32", "match", "u32", "0", "0", "action", "mirred", "egress", "redirect", "dev", "ifb0"]);
      await ns.exec("tc", ["qdisc", "add", "dev", "ifb0", "root", "tbf", ...shape]);
      const dropped = async (dev: string) => {
        const r = await ns.exec("tc", ["-s", "qdisc", "show", "dev", dev, "root"]);
        return Number(/dropped (\d+)/.exec(r.stdout)?.[1] ?? NaN);
      };
      return async () => ({ toStack: await dropped(tap), fromStack: await dropped("ifb0") });
    },
    async capture(o = {}) {
      const file = join(tmpDir, `capture-${randomBytes(3).toString("hex")}.pcap`);
      const p = ns.spawn("tshark", ["-i", tap, "-n", "-w", file, ...(o.filter ? ["-f", o.filter] : [])]);
      await p.waitFor(/Capturing on/, 15_000);
      // tshark says "Capturing on" before dumpcap's socket is live: wait for a packet socket bound
      // to the TAP in this namespace's /proc/net/packet, then a little for the filter and ring.
      const ifindex = (await ns.exec("cat", [`/sys/class/net/${tap}/ifindex`])).stdout.trim();
      const end = Date.now() + 15_000;
      for (;;) {
        const table = (await ns.exec("cat", ["/proc/net/packet"])).stdout.trim().split("\n").slice(1);
        if (table.some((row) => row.trim().split(/\s+/)[4] === ifindex)) break;
        if (Date.now() > end) throw new Error(`tshark did not start capturing on ${tap} within 15 s:\n${p.output()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 150));
      return {
        file,
        async stop(extra = []) {
          // Frames already sent may still sit in dumpcap's ring: wait until the file has stopped
          // growing for a while (dumpcap writes in bursts), then SIGINT lets tshark finish it.
          let size = -1;
          let stableSince = Date.now();
          const deadline = Date.now() + 10_000;
          while (Date.now() < deadline) {
            const now = existsSync(file) ? statSync(file).size : 0;
            if (now !== size) {
              size = now;
              stableSince = Date.now();
            } else if (Date.now() - stableSince >= 500) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          p.child.kill("SIGINT");
          await p.exited;
          const r = spawnSync("tshark", ["-r", file, "-n", ...extra], { encoding: "utf8" });
          if (r.status !== 0) throw new Error(`tshark -r ${file} failed: ${r.stderr}`);
          return r.stdout;
        },
      };
    },
  };

  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = options.timeoutMs ?? 60_000;
  try {
    return await Promise.race([
      fn(ns),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`withNetns: the test did not finish within ${timeoutMs} ms (namespace ${name}); everything was cleaned up`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    for (const t of taps) await t.disconnect().catch(() => {});
    await Promise.all([...processes].map((p) => p.stop(1000)));
    cleanupSync();
  }
}
