// npm run bench:block — throughput of 4 KiB I/O on a host-file Block and on AES-CCM over it,
// measured in the same run so the ratio column compares like with like. Queue depth 1: every
// operation is awaited before the next. Reads are mostly served by the host page cache, so the
// figures show the cost of our layers (syscalls, copies, crypto), not of the disk.
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ccm } from "../src/block/ccm.ts";
import { openFile } from "../src/block/file.ts";
import type { Block } from "../src/devices/block.ts";

const IO_BYTES = 4096;
const DEVICE_BYTES = 64 * 1024 * 1024;
const SECONDS_PER_ROUND = Number(process.env.BENCH_SECONDS ?? 0.5);
/** Raw and CCM alternate this many times per case; the best round of each counts (less noise on a busy host). */
const ROUNDS = 3;
const KEY = "000102030405060708090a0b0c0d0e0f";

type Pattern = "sequential" | "random";
type Op = "read" | "write";

// A small xorshift generator: repeatable positions, no dependence on the crypto RNG's speed.
function positions(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

async function measure(block: Block, op: Op, pattern: Pattern): Promise<number> {
  const { sectorSize, sizeSectors } = await block.info();
  const perIo = IO_BYTES / sectorSize;
  const slots = Math.floor(sizeSectors / perIo);
  const buf = new Uint8Array(IO_BYTES).fill(0x5a);
  const next = positions(12345);
  let slot = 0;
  let bytes = 0;
  const start = performance.now();
  const deadline = start + SECONDS_PER_ROUND * 1000;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 64; i++) {
      const s = pattern === "sequential" ? slot++ % slots : next() % slots;
      if (op === "read") await block.read(s * perIo, buf);
      else await block.write(s * perIo, buf);
      bytes += IO_BYTES;
    }
    now = performance.now();
  }
  if (op === "write") await block.flush();
  return bytes / ((performance.now() - start) / 1000) / 1e6;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "oasis-bench-block-"));
  try {
    const rawPath = join(dir, "raw.img");
    const ccmPath = join(dir, "ccm.img");
    for (const [p, size] of [[rawPath, DEVICE_BYTES], [ccmPath, 2 * DEVICE_BYTES]] as const) {
      await writeFile(p, "");
      await truncate(p, size);
    }
    const raw = await openFile(rawPath);
    const enc = await ccm(KEY, await openFile(ccmPath));
    // Write everything once so reads see real ciphertext (and both files are allocated alike).
    const fill = new Uint8Array(1024 * 1024).fill(1);
    for (let s = 0; s < DEVICE_BYTES / 512; s += fill.length / 512) {
      await raw.write(s, fill);
      await enc.write(s, fill);
    }
    const rows: string[][] = [];
    for (const pattern of ["sequential", "random"] as const) {
      for (const op of ["write", "read"] as const) {
        let r = 0;
        let c = 0;
        for (let round = 0; round < ROUNDS; round++) {
          r = Math.max(r, await measure(raw, op, pattern));
          c = Math.max(c, await measure(enc, op, pattern));
        }
        rows.push([`${pattern} 4 KiB ${op}`, r.toFixed(1), c.toFixed(1), (c / r).toFixed(2)]);
      }
    }
    await raw.disconnect();
    await enc.disconnect();
    const header = ["case (QD 1, 64 MiB device)", "file MB/s", "ccm MB/s", "ccm/file"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    console.log(line(header));
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const r of rows) console.log(line(r));
    console.log(`\nbest of ${ROUNDS} alternating rounds of ${SECONDS_PER_ROUND}s; node ${process.version}; AES-128-CCM, 512-byte sectors (8 logical sectors per I/O).`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
