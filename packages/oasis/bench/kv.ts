// npm run bench:kv — key-value stores doing the same work in the same run: many small values
// spread over directories, then a few large ones. The baseline is the host-directory store
// (Linux's own file system through node:fs); mem shows the cost of the KV layer alone, and tar
// and FAT run on a host-file Block (page cache, fsync on flush) like a real disk image.
import { mkdir, mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { openFile } from "../src/block/file.ts";
import type { KvRw } from "../src/devices/kv.ts";
import { DirectKvRw } from "../src/kv/direct.ts";
import { formatFat } from "../src/kv/fat/layout.ts";
import { FatKvRw } from "../src/kv/fat/store.ts";
import { MemKv } from "../src/kv/mem.ts";
import { TarKvRw } from "../src/kv/tar/store.ts";

const SMALL = Number(process.env.BENCH_SMALL ?? 1000);
const LARGE = Number(process.env.BENCH_LARGE ?? 16);
const IMAGE_BYTES = 256 * 1024 * 1024;

interface Case {
  name: string;
  run: (kv: KvRw) => Promise<number>; // returns operations done
}

const small = new Uint8Array(200).fill(0x61);
const large = new Uint8Array(1024 * 1024).fill(0x62);
const smallKey = (i: number) => `/dir ${i % 20}/value number ${i}.txt`;

const cases: Case[] = [
  { name: `set ${SMALL} × 200 B (20 dirs)`, run: async (kv) => { for (let i = 0; i < SMALL; i++) await kv.set(smallKey(i), small); return SMALL; } },
  { name: `get ${SMALL} × 200 B`, run: async (kv) => { for (let i = 0; i < SMALL; i++) await kv.get(smallKey(i)); return SMALL; } },
  { name: "list 20 dirs", run: async (kv) => { for (let i = 0; i < 20; i++) await kv.list(`/dir ${i}`); return 20; } },
  { name: `set ${LARGE} × 1 MiB`, run: async (kv) => { for (let i = 0; i < LARGE; i++) await kv.set(`/large/${i}.bin`, large); return LARGE; } },
  { name: `get ${LARGE} × 1 MiB`, run: async (kv) => { for (let i = 0; i < LARGE; i++) await kv.get(`/large/${i}.bin`); return LARGE; } },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "oasis-bench-kv-"));
  const closers: Array<() => Promise<void>> = [];
  try {
    const image = async (name: string) => {
      const p = join(dir, name);
      await writeFile(p, "");
      await truncate(p, IMAGE_BYTES);
      const blk = await openFile(p);
      closers.push(() => blk.disconnect());
      return blk;
    };
    await mkdir(join(dir, "direct"));
    const fatBlock = await image("fat.img");
    await formatFat(fatBlock, { type: 32 });
    const stores: Array<[string, KvRw]> = [
      ["direct", await DirectKvRw.open(join(dir, "direct"))],
      ["mem", new MemKv()],
      ["tar", await TarKvRw.open(await image("tar.img"))],
      ["fat32", await FatKvRw.open(fatBlock)],
    ];
    const rows: string[][] = [];
    for (const c of cases) {
      const rates = new Map<string, number>();
      for (const [name, kv] of stores) {
        const start = performance.now();
        const ops = await c.run(kv);
        rates.set(name, ops / ((performance.now() - start) / 1000));
      }
      const base = rates.get("direct")!;
      rows.push([c.name, ...stores.flatMap(([name]) => [rates.get(name)!.toFixed(0), (rates.get(name)! / base).toFixed(2)])]);
    }
    const header = ["case", ...stores.flatMap(([name]) => [`${name} ops/s`, `÷direct`])];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    console.log(line(header));
    console.log(widths.map((w) => "-".repeat(w)).join("  "));
    for (const r of rows) console.log(line(r));
    console.log(`\nnode ${process.version}; every set is durable (fsync) on direct, tar and FAT; images of ${IMAGE_BYTES / 1024 / 1024} MiB in ${tmpdir()}.`);
  } finally {
    for (const close of closers) await close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
