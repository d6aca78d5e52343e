// A Linux TAP interface as a Net (unix target). Reads arrive in batches from the addon: one JS
// call per wake-up with up to `batch` frames packed in one buffer.
import { existsSync, readFileSync } from "node:fs";
import { NetError } from "../../devices/errors.ts";
import type { MacAddr, Net, NetOffload, NetStats, RxOffload, TxOffload } from "../../devices/net.ts";
import { source } from "oasis/logs";
import { randomMac, toMac } from "./mac.ts";
import { loadTapAddon, type TapAddon, type TapCounters, type TapHandle } from "./tap-addon.ts";

const log = source("net.tap", "TAP network interfaces");

export interface TapOptions {
  /** Our MAC (the unikernel's, not the host side's): six bytes or "02:…"; random locally administered by default. */
  mac?: MacAddr | string;
  /** Largest payload after the Ethernet header; default the interface's MTU (1500 if unknown). */
  mtu?: number;
  /** Most frames handed to JS per wake-up (default 128). */
  batch?: number;
  /** Frames kept while the kernel queue is full before writes are dropped (default 1024). */
  queueLimit?: number;
  /**
   * Open the TAP inside another network namespace: a name from `ip netns list` or a path such as
   * /proc/PID/ns/net. The returned device works from this process (needs CAP_SYS_ADMIN).
   */
  netns?: string;
  /**
   * Exchange 64 KB TCP segments and partial checksums with the kernel (IFF_VNET_HDR and
   * TUNSETOFFLOAD, as a virtio-net guest does) instead of MTU-sized frames only. Off by default;
   * the `netif` device turns it on (--offload=false turns it off).
   */
  offload?: boolean;
}

/** Largest frame with offloads: an IPv6 header, a 64 KiB payload and the Ethernet header. */
const OFFLOAD_MAX_FRAME = 14 + 40 + 65535;
/** Receive buffer with offloads: room for a few dozen 64 KB frames per wake-up. */
const OFFLOAD_RX_BUFFER = 2 * 1024 * 1024;
const RX_CHECKSUM_OK = 1;

export interface TapStats extends NetStats {
  /** Frames that had to wait for the kernel (EAGAIN) since the last reset. */
  txQueuedTotal: number;
  /** Frames waiting right now. */
  txQueueLength: number;
}

/** A TAP Net with batched writes. */
export interface TapNet extends Net {
  /** The interface name as the kernel reports it. */
  readonly name: string;
  /** Writes many frames in one call (copied before returning, like write). */
  writeMany(frames: readonly Uint8Array[]): void;
  /** Writes `count` frames packed back to back in `buffer`, with their lengths; no copy in JS. */
  writePacked(buffer: Uint8Array, lengths: Uint32Array, count: number): void;
  stats(): TapStats;
}

const ERRNO_NAMES: Record<number, string> = { 5: "EIO", 19: "ENODEV", 22: "EINVAL", 77: "EBADFD", 90: "EMSGSIZE", 100: "ENETDOWN" };

function advice(code: string | undefined, name: string): string {
  switch (code) {
    case "ENOENT":
      return "/dev/net/tun does not exist: load the tun module (modprobe tun) or, in a container, pass --device /dev/net/tun";
    case "EPERM":
    case "EACCES":
      return `permission denied: run as root (CAP_NET_ADMIN), or create the TAP for your user first: sudo ip tuntap add mode tap user $USER name ${name}`;
    case "EBUSY":
      return `${name} is already in use by another process (a TAP has one reader); stop it or choose another interface with --interface`;
    case "EINVAL":
      return `${name} exists but is not a TAP (a TUN or another kind of interface?); choose another name with --interface`;
    default:
      return "see the cause";
  }
}

function interfaceIsUp(name: string): boolean | null {
  const flags = `/sys/class/net/${name}/flags`;
  if (!existsSync(flags)) return null;
  return (parseInt(readFileSync(flags, "utf8").trim(), 16) & 1) === 1;
}

/**
 * Attaches to the TAP `name` (creating a non-persistent one when it does not exist). The process
 * must run in the network namespace of the TAP. Throws NetError("unavailable") with what to do.
 */
export function openTap(name: string, options: TapOptions = {}): TapNet {
  if (!/^[^\s/:]{1,15}$/.test(name)) {
    throw new NetError("unavailable", `'${name}' is not a valid interface name: 1 to 15 characters, no spaces, '/' or ':'`);
  }
  // Checked before opening: a TAP attached and then abandoned would stay busy.
  const batch = options.batch ?? 128;
  if (!(Number.isInteger(batch) && batch >= 1 && batch <= 4096)) throw new RangeError(`TAP ${name}: batch must be an integer in 1..4096, got ${options.batch}`);
  if (options.mtu !== undefined && !(Number.isInteger(options.mtu) && options.mtu >= 46 && options.mtu <= 65521)) {
    throw new RangeError(`TAP ${name}: mtu must be an integer in 46..65521, got ${options.mtu}`);
  }
  const mac = options.mac === undefined ? randomMac() : toMac(options.mac, `TAP ${name}`);
  const addon = loadTapAddon();
  const netnsPath = options.netns === undefined ? undefined : options.netns.includes("/") ? options.netns : `/var/run/netns/${options.netns}`;
  let opened: ReturnType<TapAddon["open"]>;
  try {
    opened = addon.open(name, options.queueLimit ?? 1024, netnsPath, options.offload === true);
  } catch (e) {
    const code = (e as { code?: string }).code;
    const message = e instanceof Error ? e.message : String(e);
    const hint = message.includes("namespace")
      ? code === "ENOENT"
        ? `there is no network namespace ${options.netns} (see \`ip netns list\`)`
        : "entering another network namespace needs root (CAP_SYS_ADMIN)"
      : advice(code, name);
    throw new NetError("unavailable", `cannot open TAP ${name}${options.netns ? ` in namespace ${options.netns}` : ""}: ${message}; ${hint}`, { cause: e });
  }
  if (opened.created) {
    log.warn(
      `TAP ${opened.name} did not exist, so it was created; it is down and disappears when this process exits. ` +
        `For a lasting one: sudo ip tuntap add mode tap user $USER name ${opened.name}; sudo ip link set ${opened.name} up; sudo ip addr add 192.0.2.1/24 dev ${opened.name}`,
    );
  } else if (netnsPath === undefined && interfaceIsUp(opened.name) === false) {
    log.warn(`TAP ${opened.name} is down, so the kernel will neither send nor accept frames: bring it up with \`ip link set ${opened.name} up\``);
  }
  if (options.offload && !opened.offload) log.warn(`TAP ${opened.name}: the kernel refused offloads (TUNSETOFFLOAD); sending and receiving MTU-sized frames only`);
  const offload: NetOffload | undefined = opened.offload ? { checksum: true, segmentation: true, maxFrame: OFFLOAD_MAX_FRAME } : undefined;
  return new Tap(addon, opened.handle, opened.name, options.mtu ?? (opened.mtu > 0 ? opened.mtu : 1500), mac, batch, offload);
}

class Tap implements TapNet {
  private connected = true;
  private handler: ((frame: Uint8Array, offload?: RxOffload) => void) | null = null;
  private rxBuffer: Uint8Array | null = null;
  private rxLengths: Uint32Array | null = null;
  private rxMeta: Uint32Array | null = null;
  /** Handed to the listener with each frame when offloads are on; rewritten per frame. */
  private readonly rxOffload: RxOffload = { checksumOk: false, segmentSize: 0 };
  private packBuffer = new Uint8Array(0);
  private packLengths = new Uint32Array(0);
  private reportedErrno = 0;

  constructor(
    private readonly addon: TapAddon,
    private readonly handle: TapHandle,
    readonly name: string,
    readonly mtu: number,
    readonly mac: MacAddr,
    private readonly batch: number,
    readonly offload: NetOffload | undefined,
  ) {}

  private check(frame: Uint8Array, segmented = false): void {
    if (!this.connected) throw new NetError("disconnected", `TAP ${this.name} is disconnected; frames can no longer be written to it`);
    const max = segmented ? this.offload!.maxFrame : this.mtu + 14;
    if (frame.length < 14 || frame.length > max) {
      throw new NetError("invalid-length", `TAP ${this.name}: a ${segmented ? "frame to segment" : "frame"} must be 14..${max} bytes${segmented ? "" : ` (Ethernet header + MTU ${this.mtu})`}, got ${frame.length}`);
    }
  }

  private noteTxError(status: number): void {
    if (status >= 0 || -status === this.reportedErrno) return;
    // Logged once per distinct errno: a down interface would otherwise log every frame.
    this.reportedErrno = -status;
    log.warn(`TAP ${this.name}: the kernel refused a frame (${ERRNO_NAMES[-status] ?? `errno ${-status}`}); such frames are counted in txDropped${-status === 5 ? `; is the interface up? (ip link set ${this.name} up)` : ""}`);
  }

  write(frame: Uint8Array, offload?: TxOffload): void {
    if (offload === undefined || offload.checksumStart === 0) {
      this.check(frame);
      this.noteTxError(this.addon.write(this.handle, frame));
      return;
    }
    if (this.offload === undefined) throw new NetError("invalid-length", `TAP ${this.name} was opened without offloads: it cannot finish checksums or segment frames`);
    this.check(frame, offload.segmentSize > 0);
    this.noteTxError(this.addon.write(this.handle, frame, offload.checksumStart, offload.checksumOffset, offload.segmentSize));
  }

  writeMany(frames: readonly Uint8Array[]): void {
    let total = 0;
    for (const f of frames) {
      this.check(f);
      total += f.length;
    }
    if (this.packBuffer.length < total) this.packBuffer = new Uint8Array(Math.max(total, 64 * 1024));
    if (this.packLengths.length < frames.length) this.packLengths = new Uint32Array(Math.max(frames.length, 256));
    let off = 0;
    for (let i = 0; i < frames.length; i++) {
      this.packBuffer.set(frames[i]!, off);
      this.packLengths[i] = frames[i]!.length;
      off += frames[i]!.length;
    }
    this.addon.writeBatch(this.handle, this.packBuffer, this.packLengths, frames.length);
  }

  writePacked(buffer: Uint8Array, lengths: Uint32Array, count: number): void {
    if (!this.connected) throw new NetError("disconnected", `TAP ${this.name} is disconnected; frames can no longer be written to it`);
    if (count > lengths.length) throw new RangeError(`TAP ${this.name}: writePacked count ${count} exceeds lengths (${lengths.length})`);
    let total = 0;
    for (let i = 0; i < count; i++) {
      const len = lengths[i]!;
      if (len < 14 || len > this.mtu + 14) throw new NetError("invalid-length", `TAP ${this.name}: frame ${i} of the batch has ${len} bytes; frames must be 14..${this.mtu + 14}`);
      total += len;
    }
    if (total > buffer.length) throw new RangeError(`TAP ${this.name}: the lengths add up to ${total} bytes but the buffer has ${buffer.length}`);
    this.addon.writeBatch(this.handle, buffer, lengths, count);
  }

  listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void {
    if (!this.connected) return;
    this.handler = handler;
    if (this.rxBuffer) return;
    const frameMax = this.offload ? this.offload.maxFrame : this.mtu + 14;
    this.rxBuffer = new Uint8Array(Math.max(this.batch * (this.mtu + 15), this.offload ? OFFLOAD_RX_BUFFER : 0));
    this.rxLengths = new Uint32Array(this.batch);
    this.rxMeta = this.offload ? new Uint32Array(this.batch) : null;
    this.addon.listen(this.handle, this.rxBuffer, this.rxLengths, frameMax, (count, errno) => this.onFrames(count, errno), this.rxMeta ?? undefined);
  }

  private onFrames(count: number, errno: number): void {
    const buf = this.rxBuffer!;
    const lengths = this.rxLengths!;
    const meta = this.rxMeta;
    const rx = this.rxOffload;
    let off = 0;
    for (let i = 0; i < count && this.handler; i++) {
      const len = lengths[i]!;
      try {
        if (meta === null) this.handler(buf.subarray(off, off + len));
        else {
          const m = meta[i]!;
          rx.checksumOk = (m & RX_CHECKSUM_OK) !== 0;
          rx.segmentSize = m >>> 16;
          this.handler(buf.subarray(off, off + len), rx);
        }
      } catch (e) {
        log.error(() => `TAP ${this.name}: listener threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      off += len;
    }
    if (errno !== 0 && this.connected) {
      log.error(`TAP ${this.name}: reading failed (${ERRNO_NAMES[errno] ?? `errno ${errno}`}): the interface was probably deleted; no more frames will be received`);
    }
  }

  stats(): TapStats {
    const c: TapCounters = this.addon.stats(this.handle);
    return {
      rxBytes: c.rxBytes,
      rxPackets: c.rxPackets,
      txBytes: c.txBytes,
      txPackets: c.txPackets,
      rxDropped: c.rxDropped,
      txDropped: c.txDropped,
      txQueuedTotal: c.txQueuedTotal,
      txQueueLength: c.txQueueLength,
    };
  }

  resetStats(): void {
    this.addon.stats(this.handle, true);
  }

  simulateBusy(writes: number): void {
    this.addon.simulateBusy(this.handle, writes);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    this.connected = false;
    this.handler = null;
    this.addon.close(this.handle);
  }
}

/** Tests only: the next `writes` write attempts on `tap` behave as if the kernel said EAGAIN. */
export function simulateKernelBusy(tap: TapNet, writes: number): void {
  if (!(tap instanceof Tap)) throw new TypeError("simulateKernelBusy: not a TAP opened by openTap");
  tap.simulateBusy(writes);
}
