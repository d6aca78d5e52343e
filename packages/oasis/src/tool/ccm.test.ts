import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CommanderError, type Command } from "commander";
import { ccm } from "../block/ccm.ts";
import { openFile } from "../block/file.ts";
import { ccmCommand } from "./ccm.ts";
import { ToolError } from "./load-config.ts";

const KEY = "0x8899aabbccddeeff0011223344556677";
let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "oasis-ccm-tool-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function quiet(cmd: Command): Command {
  cmd.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  for (const sub of cmd.commands) quiet(sub);
  return cmd;
}

function runCcm(...args: string[]): Promise<Command> {
  return quiet(ccmCommand()).parseAsync(args, { from: "user" });
}

describe("oasis ccm", () => {
  it("enc then dec gives back the input, byte for byte", async () => {
    const plain = join(dir, "plain.img");
    const data = randomBytes(300 * 512); // more than one copy chunk
    await writeFile(plain, data);
    await runCcm("enc", "-k", KEY, "-i", plain, "-o", join(dir, "enc.img"));
    const encrypted = await readFile(join(dir, "enc.img"));
    assert.equal(encrypted.length, 2 * data.length);
    assert.equal(encrypted.indexOf(data.subarray(0, 64)), -1, "no plaintext in the encrypted image");
    await runCcm("dec", "--key", KEY.slice(2), "--input", join(dir, "enc.img"), "--output", join(dir, "back.img"));
    assert.deepEqual(await readFile(join(dir, "back.img")), data);
  });

  it("encrypts into the layout the ccm device reads", async () => {
    const plain = join(dir, "p2.img");
    const data = randomBytes(8 * 4096);
    await writeFile(plain, data);
    await runCcm("enc", "-k", KEY, "-i", plain, "-o", join(dir, "e2.img"), "--sector-size", "4096", "--nonce-len", "12");
    const disk = await ccm(KEY, await openFile(join(dir, "e2.img"), { sectorSize: 4096, readOnly: true }), { nonceLen: 12 });
    const back = new Uint8Array(8 * 4096);
    await disk.read(0, back);
    assert.deepEqual(back, new Uint8Array(data));
    await disk.disconnect();
  });

  it("decrypting with the wrong key fails, names the sector and writes no output", async () => {
    const plain = join(dir, "p3.img");
    await writeFile(plain, randomBytes(4 * 512));
    await runCcm("enc", "-k", KEY, "-i", plain, "-o", join(dir, "e3.img"));
    await assert.rejects(runCcm("dec", "-k", "11".repeat(16), "-i", join(dir, "e3.img"), "-o", join(dir, "d3.img")), (e: ToolError) => {
      assert.ok(e instanceof ToolError);
      assert.equal(e.exitCode, 1);
      assert.match(e.message, /cannot decrypt: logical sector 0 .* failed authentication.*check the key/);
      return true;
    });
    const left = await readdir(dir);
    assert.ok(!left.some((f) => f.startsWith("d3.img")), `leftover output: ${left.join(", ")}`);
  });

  it("decrypts never-written (all-zero) sectors as zeros, like the device, or fails on them with --strict", async () => {
    const enc = join(dir, "fresh.enc");
    await writeFile(enc, Buffer.alloc(8 * 512));
    await runCcm("dec", "-k", KEY, "-i", enc, "-o", join(dir, "fresh.plain"));
    assert.deepEqual(await readFile(join(dir, "fresh.plain")), Buffer.alloc(4 * 512));
    await assert.rejects(runCcm("dec", "--strict", "-k", KEY, "-i", enc, "-o", join(dir, "fresh2.plain")), /logical sector 0 .* failed authentication/);
  });

  it("refuses to overwrite an existing output unless --force", async () => {
    const plain = join(dir, "p4.img");
    await writeFile(plain, randomBytes(512));
    const out = join(dir, "e4.img");
    await writeFile(out, "precious");
    await assert.rejects(runCcm("enc", "-k", KEY, "-i", plain, "-o", out), /already exists; remove it or add --force/);
    assert.equal(await readFile(out, "utf8"), "precious");
    await runCcm("enc", "-k", KEY, "-i", plain, "-o", out, "--force");
    assert.equal((await readFile(out)).length, 1024);
  });

  it("reports bad usage with exit code 64: malformed key, same file, bad sector size, missing option", async () => {
    const plain = join(dir, "p5.img");
    await writeFile(plain, randomBytes(512));
    await assert.rejects(runCcm("enc", "-k", "0x1234", "-i", plain, "-o", join(dir, "x")), (e: ToolError) => e.exitCode === 64 && /-k: the CCM key has 4 hex digits/.test(e.message));
    await assert.rejects(runCcm("enc", "-k", KEY, "-i", plain, "-o", plain), /same file/);
    await assert.rejects(runCcm("enc", "-k", KEY, "-i", plain, "-o", join(dir, "x"), "--sector-size", "1000"), /--sector-size '1000' is invalid/);
    await assert.rejects(runCcm("enc", "-i", plain, "-o", join(dir, "x")), (e: CommanderError) => e instanceof CommanderError && /required option '-k, --key <hex>'/.test(e.message));
  });

  it("refuses an input that is not a whole number of sectors, or missing", async () => {
    const odd = join(dir, "odd.img");
    await writeFile(odd, randomBytes(700));
    await assert.rejects(runCcm("enc", "-k", KEY, "-i", odd, "-o", join(dir, "y")), /700 bytes is not a multiple of the 512-byte sector size/);
    await assert.rejects(runCcm("enc", "-k", KEY, "-i", join(dir, "none.img"), "-o", join(dir, "y")), /cannot open: no such file/);
  });
});
