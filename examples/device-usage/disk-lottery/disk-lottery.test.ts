// End to end: build the disk lottery, play it on a host image, check the slots on disk with an
// independent CRC-32 (zlib's), and check damage detection and the reset flags.
import assert from "node:assert/strict";
import { openSync, readFileSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { crc32 } from "node:zlib";
import { buildExample, runUnikernel } from "../../../test/support/unikernel.ts";

interface Play {
  slot: number;
  play: number;
  ticket: number;
  drawn: number;
  wins: number;
}

function plays(out: string): Play[] {
  return [...out.matchAll(/slot (\d+): play (\d+), ticket (\d), drawn (\d): (?:you win!|no luck) \((\d+) win\(s\) in \2 play\(s\)\)/g)].map((m) => ({
    slot: Number(m[1]),
    play: Number(m[2]),
    ticket: Number(m[3]),
    drawn: Number(m[4]),
    wins: Number(m[5]),
  }));
}

function slotOnDisk(image: string, slot: number): { magic: string; plays: number; wins: number; ticket: number; lastDraw: number; crcOk: boolean } {
  const b = readFileSync(image).subarray(slot * 512, slot * 512 + 512);
  return {
    magic: b.subarray(0, 8).toString("latin1"),
    plays: b.readUInt32LE(8),
    wins: b.readUInt32LE(12),
    ticket: b.readUInt32LE(16),
    lastDraw: b.readUInt32LE(20),
    crcOk: crc32(b.subarray(0, 508)) === b.readUInt32LE(508),
  };
}

test("the disk lottery keeps each slot's game on disk, detects damage and resets", async () => {
  const { dir, bin } = await buildExample("examples/device-usage/disk-lottery");
  const image = join(dir, "lottery.img");
  writeFileSync(image, "");
  truncateSync(image, 32 * 1024);
  const play = (...args: string[]) => runUnikernel(bin, args, { cwd: dir, timeoutMs: 30_000 });

  let wins = 0;
  let ticket = -1;
  for (let i = 1; i <= 3; i++) {
    const r = await play();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [p] = plays(r.stdout);
    assert.ok(p, r.stdout);
    if (i === 1) {
      assert.match(r.stdout, /slot 0: new game, your ticket is \d/);
      ticket = p.ticket;
    }
    if (p.drawn === p.ticket) wins++;
    assert.deepEqual({ slot: p.slot, play: p.play, ticket: p.ticket, wins: p.wins }, { slot: 0, play: i, ticket, wins });
    const onDisk = slotOnDisk(image, 0);
    assert.deepEqual(onDisk, { magic: "LOTTERY1", plays: i, wins, ticket, lastDraw: p.drawn, crcOk: true });
  }

  const other = await play("--slot=5");
  assert.equal(other.code, 0, other.stderr);
  assert.equal(plays(other.stdout)[0]!.play, 1);
  assert.equal(slotOnDisk(image, 5).plays, 1);
  assert.equal(slotOnDisk(image, 0).plays, 3);

  // One flipped bit in slot 0's record: reported, exit non-zero, slot left as it was.
  const before = readFileSync(image);
  const fd = openSync(image, "r+");
  writeSync(fd, Buffer.from([before[9]! ^ 0x10]), 0, 1, 9);
  closeSync(fd);
  const damaged = await play();
  assert.notEqual(damaged.code, 0);
  assert.match(damaged.stdout + damaged.stderr, /slot 0 is corrupt \(checksum mismatch: stored [0-9a-f]+, computed [0-9a-f]+\); run with --slot=0 --reset/);
  assert.equal(readFileSync(image)[9], before[9]! ^ 0x10);

  const reset = await play("--reset");
  assert.equal(reset.code, 0, reset.stderr);
  assert.match(reset.stdout, /slot 0 reset/);
  assert.ok(readFileSync(image).subarray(0, 512).every((x) => x === 0));
  assert.equal(slotOnDisk(image, 5).plays, 1, "other slots untouched");
  const fresh = await play();
  assert.match(fresh.stdout, /slot 0: new game/);

  const tooFar = await play("--slot=64");
  assert.notEqual(tooFar.code, 0);
  assert.match(tooFar.stdout + tooFar.stderr, /--slot=64: the disk has 64 slots, numbered 0 to 63/);

  const all = await play("--reset-all");
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stdout, /reset all 64 slots/);
  assert.ok(readFileSync(image).every((x) => x === 0));

  const help = await play("--help");
  assert.match(help.stdout, /--reset-all\n\s+Wipe every slot/);
  assert.match(help.stdout, /--slot=INT/);
});
