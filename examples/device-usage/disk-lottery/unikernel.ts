import type { Block } from "oasis";
import { crc32 } from "oasis/block";
import { source } from "oasis/logs";
import { randomInt } from "oasis/random";
import { runtimeArg } from "oasis/runtime";

// Each player has a slot: one sector holding a ticket number and the game so far, with a CRC-32
// over the record so a damaged slot is detected instead of silently played on.
const slotArg = runtimeArg.int({ name: "slot", default: 0, min: 0, doc: "The slot (player) to play, from 0." });
const reset = runtimeArg.bool({ name: "reset", doc: "Wipe the chosen slot and stop (the next play starts a new game with a new ticket)." });
const resetAll = runtimeArg.bool({ name: "reset-all", doc: "Wipe every slot and stop." });

const log = source("lottery", "The disk lottery");

const MAGIC = "LOTTERY1";
const MAX_SLOTS = 64;
const NUMBERS = 10;

interface Slot {
  ticket: number;
  plays: number;
  wins: number;
  lastDraw: number;
}

function encode(slot: Slot, sectorSize: number): Uint8Array {
  const b = new Uint8Array(sectorSize);
  const v = new DataView(b.buffer);
  for (let i = 0; i < MAGIC.length; i++) b[i] = MAGIC.charCodeAt(i);
  v.setUint32(8, slot.plays, true);
  v.setUint32(12, slot.wins, true);
  v.setUint32(16, slot.ticket, true);
  v.setUint32(20, slot.lastDraw, true);
  v.setUint32(sectorSize - 4, crc32(b.subarray(0, sectorSize - 4)), true);
  return b;
}

/** The slot's game, null for an empty (all-zero) slot; throws on a damaged one. */
function decode(b: Uint8Array, index: number): Slot | null {
  if (b.every((x) => x === 0)) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const stored = v.getUint32(b.length - 4, true);
  const computed = crc32(b.subarray(0, b.length - 4));
  const magic = String.fromCharCode(...b.subarray(0, 8));
  if (magic !== MAGIC || stored !== computed) {
    const why = magic !== MAGIC ? "it does not hold a lottery record" : `checksum mismatch: stored ${stored.toString(16)}, computed ${computed.toString(16)}`;
    throw new Error(`slot ${index} is corrupt (${why}); run with --slot=${index} --reset to start it over`);
  }
  const slot = { plays: v.getUint32(8, true), wins: v.getUint32(12, true), ticket: v.getUint32(16, true), lastDraw: v.getUint32(20, true) };
  if (slot.ticket >= NUMBERS || slot.wins > slot.plays) throw new Error(`slot ${index} is corrupt (impossible values); run with --slot=${index} --reset`);
  return slot;
}

export async function start({ disk }: { disk: Block }): Promise<void> {
  const { sectorSize, sizeSectors, readWrite } = await disk.info();
  const slots = Math.min(sizeSectors, MAX_SLOTS);
  if (slots === 0) throw new Error("the disk is empty; create lottery.img first, e.g. `truncate -s 32K lottery.img`");
  if (!readWrite) throw new Error("the disk is read-only; the lottery needs to write its slots");

  if (resetAll()) {
    await disk.write(0, new Uint8Array(slots * sectorSize));
    await disk.flush();
    log.info(`reset all ${slots} slots`);
    return;
  }
  const index = slotArg();
  if (index >= slots) throw new Error(`--slot=${index}: the disk has ${slots} slots, numbered 0 to ${slots - 1}`);
  if (reset()) {
    await disk.write(index, new Uint8Array(sectorSize));
    await disk.flush();
    log.info(`slot ${index} reset`);
    return;
  }

  const sector = new Uint8Array(sectorSize);
  await disk.read(index, sector);
  let slot = decode(sector, index);
  if (!slot) {
    slot = { ticket: randomInt(NUMBERS), plays: 0, wins: 0, lastDraw: 0 };
    log.info(`slot ${index}: new game, your ticket is ${slot.ticket}`);
  }
  const draw = randomInt(NUMBERS);
  slot.plays++;
  slot.lastDraw = draw;
  const won = draw === slot.ticket;
  if (won) slot.wins++;
  await disk.write(index, encode(slot, sectorSize));
  await disk.flush();
  log.info(`slot ${index}: play ${slot.plays}, ticket ${slot.ticket}, drawn ${draw}: ${won ? "you win!" : "no luck"} (${slot.wins} win(s) in ${slot.plays} play(s))`);
}
