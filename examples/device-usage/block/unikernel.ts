import type { Block } from "oasis";
import { BlockError } from "oasis/errors";
import { source } from "oasis/logs";
import { fillRandom } from "oasis/random";

const log = source("block-test", "Block device read/write checks");

let failures = 0;

function check(ok: boolean, what: string): void {
  if (ok) log.info(`ok: ${what}`);
  else {
    failures++;
    log.error(`FAILED: ${what}`);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Runs `op`, which must fail with a BlockError of `code`. */
async function expectError(what: string, code: BlockError["code"], op: () => Promise<unknown>): Promise<void> {
  try {
    await op();
    check(false, `${what}: succeeded, expected ${code}`);
  } catch (e) {
    const ok = e instanceof BlockError && e.code === code;
    check(ok, `${what} fails with ${code}${ok ? "" : `, got ${String(e)}`}`);
    if (ok) log.debug(e.message);
  }
}

// Writes random data at `sector` in one call, then reads it back sector by sector and in one call.
async function roundTrip(disk: Block, sector: number, sectors: number): Promise<void> {
  const { sectorSize } = await disk.info();
  const data = fillRandom(new Uint8Array(sectors * sectorSize));
  await disk.write(sector, data);
  const whole = new Uint8Array(data.length);
  await disk.read(sector, whole);
  let singles = true;
  for (let i = 0; i < sectors; i++) {
    const one = new Uint8Array(sectorSize);
    await disk.read(sector + i, one);
    singles &&= equal(one, data.subarray(i * sectorSize, (i + 1) * sectorSize));
  }
  check(equal(whole, data) && singles, `write ${sectors} sector(s) at ${sector}, read back`);
}

export async function start({ disk, readOnly }: { disk: Block; readOnly: Block }): Promise<void> {
  const info = await disk.info();
  log.info(`disk: ${info.sizeSectors} sectors of ${info.sectorSize} bytes, ${info.readWrite ? "read-write" : "read-only"}`);
  const { sizeSectors: size, sectorSize } = info;
  if (size < 16) throw new Error(`disk.img is too small (${size} sectors); create one of at least 16 sectors, e.g. \`truncate -s 1M disk.img\``);

  for (const [sector, n] of [[0, 1], [1, 2], [size / 2, 8], [size - 4, 4], [size - 1, 1]] as const) {
    await roundTrip(disk, Math.floor(sector), n);
  }
  await disk.flush();

  const one = new Uint8Array(sectorSize);
  const lastBefore = new Uint8Array(sectorSize);
  await disk.read(size - 1, lastBefore);
  await expectError("read of the sector after the last", "out-of-range", () => disk.read(size, one));
  await expectError("write of the sector after the last", "out-of-range", () => disk.write(size, one));
  await expectError("write of 2 sectors starting at the last one", "out-of-range", () => disk.write(size - 1, new Uint8Array(2 * sectorSize)));
  await expectError("read at sector -1", "out-of-range", () => disk.read(-1, one));
  await expectError(`read into a buffer of ${sectorSize + 1} bytes`, "misaligned", () => disk.read(0, new Uint8Array(sectorSize + 1)));
  await expectError(`write of a ${sectorSize / 2}-byte buffer`, "misaligned", () => disk.write(0, new Uint8Array(sectorSize / 2)));

  // The failed write at the end must not have touched the last sector.
  const last = new Uint8Array(sectorSize);
  await disk.read(size - 1, last);
  check(equal(last, lastBefore), "failed writes changed nothing");

  const roInfo = await readOnly.info();
  check(!roInfo.readWrite, "the read-only device says it is read-only");
  await expectError("write to the read-only device", "read-only", () => readOnly.write(0, one));
  const first = new Uint8Array(sectorSize);
  await readOnly.read(0, first);
  const viaDisk = new Uint8Array(sectorSize);
  await disk.read(0, viaDisk);
  check(equal(first, viaDisk), "the read-only device reads what the read-write one wrote");

  if (failures > 0) throw new Error(`${failures} block check(s) failed`);
  log.info("All block checks passed");
}
