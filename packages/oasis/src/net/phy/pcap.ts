// withPcap: a Net → Net middleware recording every frame in and out in libpcap format
// (LINKTYPE_ETHERNET, microsecond timestamps), readable by tshark/tcpdump/Wireshark.
import { closeSync, openSync, writeSync } from "node:fs";
import type { Net, RxOffload, TxOffload } from "../../devices/net.ts";
import { finishPartialChecksum } from "../wire/gso.ts";
import { nowMs as monotonicMs } from "oasis/mtime";
import { nowMs as wallMs } from "oasis/ptime";

/** Where pcap bytes go: a file path or any sink (e.g. an in-memory array in tests). */
export interface PcapSink {
  write(bytes: Uint8Array): void;
  close?(): void;
}

export interface PcapOptions {
  /** Bytes kept of each frame (default 65535); longer frames are truncated in the file only. */
  snaplen?: number;
}

const LINKTYPE_ETHERNET = 1;
const FLUSH_BYTES = 64 * 1024;

/** The 24-byte global header. */
export function pcapHeader(snaplen = 65535): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setInt32(8, 0, true); // thiszone
  v.setUint32(12, 0, true); // sigfigs
  v.setUint32(16, snaplen, true);
  v.setUint32(20, LINKTYPE_ETHERNET, true);
  return h;
}

/** A sink writing to `path` (created or truncated); throws a one-line error when it cannot. */
export function pcapFileSink(path: string): PcapSink {
  let fd: number;
  try {
    fd = openSync(path, "w");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "";
    const why = code === "ENOENT" ? "its directory does not exist" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
    throw new Error(`cannot create pcap file ${path}: ${why}`, { cause: e });
  }
  return {
    write(bytes) {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off);
    },
    close() {
      closeSync(fd);
    },
  };
}

/** Writes pcap records in batches: one write per 64 KiB or per turn of the event loop. */
class PcapWriter {
  private buffer = new Uint8Array(FLUSH_BYTES * 2);
  private used = 0;
  private scheduled = false;
  private closed = false;
  private readonly startWall = wallMs();
  private readonly startMono = monotonicMs();
  private readonly flushOnExit = () => this.flush();

  constructor(
    private readonly sink: PcapSink,
    private readonly snaplen: number,
  ) {
    this.append(pcapHeader(snaplen));
    this.flush();
    // A unikernel that exits without disconnecting must not lose the last frames.
    process.on("exit", this.flushOnExit);
  }

  private append(bytes: Uint8Array): void {
    if (this.used + bytes.length > this.buffer.length) {
      this.flush();
      if (bytes.length > this.buffer.length) this.buffer = new Uint8Array(bytes.length * 2);
    }
    this.buffer.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** `offload`: a frame written with a partial checksum is recorded with it finished, as it goes on the wire. */
  record(frame: Uint8Array, offload?: TxOffload): void {
    if (this.closed) return;
    const t = this.startWall + (monotonicMs() - this.startMono);
    const seconds = Math.floor(t / 1000);
    const micros = Math.min(999_999, Math.floor((t - seconds * 1000) * 1000));
    const kept = Math.min(frame.length, this.snaplen);
    if (this.used + 16 + kept > this.buffer.length) this.flush();
    if (16 + kept > this.buffer.length) this.buffer = new Uint8Array((16 + kept) * 2);
    const v = new DataView(this.buffer.buffer, this.buffer.byteOffset + this.used, 16);
    v.setUint32(0, seconds, true);
    v.setUint32(4, micros, true);
    v.setUint32(8, kept, true);
    v.setUint32(12, frame.length, true);
    this.buffer.set(frame.subarray(0, kept), this.used + 16);
    if (offload !== undefined && offload.checksumStart > 0 && kept === frame.length) {
      finishPartialChecksum(this.buffer.subarray(this.used + 16, this.used + 16 + kept), offload.checksumStart, offload.checksumOffset);
    }
    this.used += 16 + kept;
    if (this.used >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      const immediate = globalThis.setImmediate as ((fn: () => void) => unknown) | undefined;
      (immediate ?? queueMicrotask)(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  flush(): void {
    if (this.used === 0 || this.closed) return;
    this.sink.write(this.buffer.slice(0, this.used));
    this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    process.off("exit", this.flushOnExit);
    this.sink.close?.();
  }
}

/**
 * Wraps `net` so every frame written to it and every frame it delivers is also appended to a
 * pcap file (or sink). Disconnecting the returned Net closes the file.
 */
export function withPcap(net: Net, file: string | PcapSink, options: PcapOptions = {}): Net {
  const snaplen = options.snaplen ?? 65535;
  if (!(Number.isInteger(snaplen) && snaplen >= 14 && snaplen <= 262144)) throw new RangeError(`withPcap: snaplen must be an integer in 14..262144, got ${options.snaplen}`);
  const writer = new PcapWriter(typeof file === "string" ? pcapFileSink(file) : file, snaplen);
  // Offloads pass through: segments to be cut by the device are recorded whole, as a capture on
  // a host with TSO shows them.
  return {
    mac: net.mac,
    mtu: net.mtu,
    ...(net.offload ? { offload: net.offload } : {}),
    write(frame: Uint8Array, offload?: TxOffload): void {
      net.write(frame, offload);
      writer.record(frame, offload);
    },
    listen(handler: (frame: Uint8Array, offload?: RxOffload) => void): void {
      net.listen((frame, offload) => {
        writer.record(frame);
        handler(frame, offload);
      });
    },
    stats: () => net.stats(),
    resetStats: () => net.resetStats(),
    async disconnect(): Promise<void> {
      try {
        await net.disconnect();
      } finally {
        writer.close();
      }
    },
  };
}
