// Finding and loading the native TAP addon (packages/oasis/native). Loading is lazy: a program
// that never opens a TAP never needs it, and where it is missing only openTap fails, clearly.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { NetError } from "../../devices/errors.ts";

export interface TapCounters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  txQueuedTotal: number;
  txQueueLength: number;
  lastTxErrno: number;
}

export type TapHandle = { readonly __tap: unique symbol };

/** The C functions (native/tap.c). */
export interface TapAddon {
  /**
   * `created`: the TAP did not exist and TUNSETIFF made a non-persistent one. `offload` asks for
   * IFF_VNET_HDR and TUNSETOFFLOAD; the result says whether the kernel accepted the offloads.
   */
  open(name: string, queueLimit: number, netnsPath?: string, offload?: boolean): { handle: TapHandle; name: string; mtu: number; created: boolean; offload: boolean };
  /** `meta` (with offloads): per frame, bit 0 = checksum known good, bits 16..31 = segment size. */
  listen(handle: TapHandle, buffer: Uint8Array, lengths: Uint32Array, frameMax: number, onFrames: (count: number, errno: number) => void, meta?: Uint32Array): void;
  unlisten(handle: TapHandle): void;
  /**
   * 0 sent, 1 queued, 2 dropped (queue full), negative errno: lost. With offloads, a non-zero
   * checksumStart asks the kernel to finish the checksum, and segmentSize to cut the TCP payload.
   */
  write(handle: TapHandle, frame: Uint8Array, checksumStart?: number, checksumOffset?: number, segmentSize?: number): number;
  /** Frames packed back to back; returns how many were lost. */
  writeBatch(handle: TapHandle, buffer: Uint8Array, lengths: Uint32Array, count: number): number;
  stats(handle: TapHandle, reset?: boolean): TapCounters;
  close(handle: TapHandle): void;
  /** Fault injection for tests: the next `writes` write attempts see EAGAIN, as from a busy kernel. */
  simulateBusy(handle: TapHandle, writes: number): void;
}

const nativeDir = fileURLToPath(new URL("../../../native/", import.meta.url));

/** Where the built addon lives in a source checkout or installed package (for a bundler to embed). */
export function tapAddonFile(): string {
  return join(nativeDir, "build", "Release", "oasis_tap.node");
}

/** The tap-blaster benchmark tool built beside the addon. */
export function tapBlasterFile(): string {
  return join(nativeDir, "build", "Release", "tap-blaster");
}

let embedded: Uint8Array | null = null;
let loaded: TapAddon | null = null;

/**
 * For self-contained bundles: the addon's bytes, embedded by the build. They are written once to a
 * content-addressed file under the temp directory and loaded from there.
 */
export function provideTapAddon(bytes: Uint8Array): void {
  embedded = bytes;
}

function why(): string {
  if (process.platform !== "linux") return `TAP devices exist only on Linux (this is ${process.platform})`;
  const reason = join(nativeDir, "build", "UNAVAILABLE.txt");
  if (existsSync(reason)) return readFileSync(reason, "utf8").trim().split("\n")[0]!;
  return `the native addon was not built (no ${tapAddonFile()}); run \`node ${join(nativeDir, "build.mjs")}\` (needs gcc, make, python3)`;
}

function fromEmbedded(bytes: Uint8Array): string {
  const digest = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "oasis-addons");
  const file = join(dir, `oasis_tap-${digest}.node`);
  if (!existsSync(file)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, bytes, { mode: 0o600 });
    // rename is atomic, so a concurrent starter never loads a half-written file.
    renameSync(partial, file);
  }
  return file;
}

const require_ = createRequire(import.meta.url);

/** Loads the addon or throws NetError("unavailable") saying why and what to do. */
export function loadTapAddon(): TapAddon {
  if (loaded) return loaded;
  const override = process.env.OASIS_TAP_ADDON;
  // A sealed executable carries its own copy, which wins over whatever lies next to it.
  const file = override ?? (embedded ? fromEmbedded(embedded) : existsSync(tapAddonFile()) ? tapAddonFile() : null);
  if (!file) throw new NetError("unavailable", `TAP networking is unavailable: ${why()}`);
  try {
    loaded = require_(file) as TapAddon;
  } catch (e) {
    const reason = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    const source = override ? " (from OASIS_TAP_ADDON)" : "";
    throw new NetError("unavailable", `TAP networking is unavailable: loading ${file}${source} failed (${reason}); rebuild it with \`node ${join(nativeDir, "build.mjs")}\``, { cause: e });
  }
  return loaded;
}
