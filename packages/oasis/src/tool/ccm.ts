// `oasis ccm enc|dec`: converts a disk image to and from the AES-CCM layout of oasis/block's ccm
// (mirage-block-ccm v2 compatible), like mirage-block-ccm's `ccmblock` tool.
import { rename, rm, stat, truncate, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command, Option } from "commander";
import { ccm, parseCcmKey } from "../block/ccm.ts";
import { openFile } from "../block/file.ts";
import type { Block } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { ToolError } from "./load-config.ts";

interface ConvertOptions {
  key: string;
  input: string;
  output: string;
  sectorSize: string;
  nonceLen: string;
  force?: boolean;
  strict?: boolean;
}

const CHUNK_SECTORS = 256;

function integer(text: string, what: string, ok: (n: number) => boolean, expected: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !ok(n)) throw new ToolError(`${what} '${text}' is invalid: expected ${expected}`, 64);
  return n;
}

async function copy(from: Block, to: Block, sectors: number, sectorSize: number): Promise<void> {
  const buf = new Uint8Array(CHUNK_SECTORS * sectorSize);
  for (let s = 0; s < sectors; s += CHUNK_SECTORS) {
    const n = Math.min(CHUNK_SECTORS, sectors - s);
    const chunk = buf.subarray(0, n * sectorSize);
    try {
      await from.read(s, chunk);
    } catch (e) {
      if (e instanceof BlockError && e.code === "integrity") {
        throw new ToolError(`cannot decrypt: ${e.message.replace(/^ccm: /, "")}; check the key (-k) and --nonce-len`);
      }
      throw e;
    }
    await to.write(s, chunk);
  }
  await to.flush();
}

async function convert(direction: "enc" | "dec", o: ConvertOptions): Promise<void> {
  const sectorSize = integer(o.sectorSize, "--sector-size", (n) => n >= 512 && (n & (n - 1)) === 0, "a power of two, at least 512");
  const nonceLen = integer(o.nonceLen, "--nonce-len", (n) => n >= 7 && n <= 13, "an integer from 7 to 13");
  let key: Uint8Array;
  try {
    key = parseCcmKey(o.key);
  } catch (e) {
    throw new ToolError(`-k: ${(e as Error).message}`, 64);
  }
  const input = resolve(o.input);
  const output = resolve(o.output);
  if (input === output) throw new ToolError("the input and output are the same file; write to a new file, then replace the old one", 64);
  if (!o.force && (await stat(output).catch(() => undefined))) throw new ToolError(`${o.output} already exists; remove it or add --force to replace it`, 64);

  let source: Block;
  try {
    const raw = await openFile(input, { readOnly: true, sectorSize });
    source = direction === "dec" ? await ccm(key, raw, { nonceLen, unwritten: o.strict ? "error" : "zeros" }) : raw;
  } catch (e) {
    throw new ToolError((e as Error).message, e instanceof BlockError ? 1 : 64);
  }
  const { sizeSectors } = await source.info();
  // Write beside the output and rename at the end: a failure leaves any existing output intact.
  const partial = `${output}.partial-${process.pid}`;
  try {
    await writeFile(partial, "");
    await truncate(partial, (direction === "enc" ? 2 * sizeSectors : sizeSectors) * sectorSize);
    const raw = await openFile(partial, { sectorSize });
    const target = direction === "enc" ? await ccm(key, raw, { nonceLen }) : raw;
    try {
      await copy(source, target, sizeSectors, sectorSize);
    } finally {
      await target.disconnect();
    }
    await rename(partial, output);
    const outSectors = direction === "enc" ? 2 * sizeSectors : sizeSectors;
    const inSectors = direction === "enc" ? sizeSectors : 2 * sizeSectors;
    process.stdout.write(`${direction === "enc" ? "Encrypted" : "Decrypted"} ${o.input} (${inSectors} sectors) into ${o.output} (${outSectors} sectors of ${sectorSize} bytes)\n`);
  } catch (e) {
    await rm(partial, { force: true });
    if (e instanceof ToolError) throw e;
    throw new ToolError((e as Error).message);
  } finally {
    await source.disconnect();
  }
}

function subcommand(direction: "enc" | "dec"): Command {
  const what = direction === "enc" ? "encrypt a plain disk image (output is twice the size)" : "decrypt an encrypted disk image (output is half the size)";
  return new Command(direction)
    .description(what)
    .requiredOption("-k, --key <hex>", "AES key: 32, 48 or 64 hex digits, 0x optional")
    .requiredOption("-i, --input <file>", "image to read")
    .requiredOption("-o, --output <file>", "image to write")
    .addOption(new Option("--sector-size <bytes>", "sector size of the images").default("512"))
    .addOption(new Option("--nonce-len <bytes>", "CCM nonce length (7-13), as given to the ccm device").default("8"))
    .option("-f, --force", "replace the output if it exists")
    .option(
      "--strict",
      direction === "dec" ? "fail on never-written (all-zero) sectors, as mirage-block-ccm does, instead of decrypting them as zeros" : "no effect when encrypting",
    )
    .exitOverride()
    .action(async (opts: ConvertOptions) => convert(direction, opts));
}

/** The `ccm` command of the oasis CLI: `oasis ccm enc|dec -k KEY -i IN -o OUT`. */
export function ccmCommand(): Command {
  return new Command("ccm")
    .description("convert disk images to and from AES-CCM encryption (the ccmBlock device's format)")
    .addCommand(subcommand("enc"))
    .addCommand(subcommand("dec"))
    .exitOverride();
}
