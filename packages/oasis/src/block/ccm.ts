// AES-CCM per-sector authenticated encryption, on-disk compatible with mirage-block-ccm v2:
// logical sector n lives in physical sectors 2n and 2n+1 of the underlying Block as
//
//   | ciphertext (sectorSize) | tag (16) | nonce (nonceLen) | adata (sectorSize − 16 − nonceLen) |
//   |<------ sector 2n ------>|<------------------- sector 2n+1 ------------------------------>|
//
// with a fresh random nonce ‖ adata on every write; the adata is authenticated, not encrypted.
import { createCipheriv, createDecipheriv } from "node:crypto";
import { fillRandom } from "oasis/random";
import type { Block, BlockInfo } from "../devices/block.ts";
import { BlockError } from "../devices/errors.ts";
import { checkIo, disconnectedError } from "./checks.ts";

const TAG_LENGTH = 16;

export interface CcmOptions {
  /** CCM nonce length in bytes, 7..13 (default 8, as mirage-block-ccm). */
  nonceLen?: number;
  /**
   * What a read of a never-written sector returns. A logical sector whose two physical sectors are
   * entirely zero cannot be a real encryption (that would need an all-zero random nonce‖adata and a
   * matching tag), so by default it reads as zeros: a fresh, zero-filled disk under CCM then behaves
   * like every other fresh Block, and stores on top can tell "empty" from "damaged". The cost: anyone
   * who can write the disk can reset a sector to zeros without detection — no worse in kind than the
   * replay of an old ciphertext that per-sector CCM cannot detect either, but an attacker chooses
   * the content (zeros). "error" gives mirage-block-ccm's behaviour: an integrity error.
   */
  unwritten?: "zeros" | "error";
}

/** Parses a hex key ("0x" optional, 32/48/64 hex digits) into 16, 24 or 32 bytes. Never echoes the key. */
export function parseCcmKey(text: string): Uint8Array {
  const hex = text.trim().replace(/^0x/i, "");
  const bad = hex.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new Error(`the CCM key has a non-hex character at position ${bad + 1}; give 32, 48 or 64 hex digits (an AES-128/192/256 key), "0x" optional`);
  if (hex.length !== 32 && hex.length !== 48 && hex.length !== 64) {
    throw new Error(`the CCM key has ${hex.length} hex digits; give 32, 48 or 64 (an AES-128/192/256 key), "0x" optional — e.g. from \`openssl rand -hex 16\``);
  }
  const key = new Uint8Array(hex.length / 2);
  for (let i = 0; i < key.length; i++) key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

export class CcmBlock implements Block {
  readonly #inner: Block;
  readonly #info: BlockInfo;
  readonly #key: Uint8Array;
  readonly #algorithm: "aes-128-ccm" | "aes-192-ccm" | "aes-256-ccm";
  readonly #nonceLen: number;
  readonly #unwritten: "zeros" | "error";
  #connected = true;

  private constructor(inner: Block, innerInfo: BlockInfo, key: Uint8Array, options: CcmOptions) {
    this.#inner = inner;
    this.#key = key;
    this.#algorithm = key.length === 16 ? "aes-128-ccm" : key.length === 24 ? "aes-192-ccm" : "aes-256-ccm";
    this.#nonceLen = options.nonceLen ?? 8;
    this.#unwritten = options.unwritten ?? "zeros";
    this.#info = { readWrite: innerInfo.readWrite, sectorSize: innerInfo.sectorSize, sizeSectors: Math.floor(innerInfo.sizeSectors / 2) };
  }

  /** Wraps `inner`; `key` is hex text or raw bytes (16, 24 or 32). */
  static async connect(key: string | Uint8Array, inner: Block, options: CcmOptions = {}): Promise<CcmBlock> {
    const raw = typeof key === "string" ? parseCcmKey(key) : key;
    if (raw.length !== 16 && raw.length !== 24 && raw.length !== 32) throw new Error(`the CCM key is ${raw.length} bytes; AES needs 16, 24 or 32`);
    const nonceLen = options.nonceLen ?? 8;
    if (!Number.isInteger(nonceLen) || nonceLen < 7 || nonceLen > 13) throw new Error(`CCM nonce length ${nonceLen} must be an integer from 7 to 13 bytes`);
    const info = await inner.info();
    if (info.sectorSize <= (TAG_LENGTH + nonceLen) * 2) {
      throw new Error(`CCM needs sectors larger than ${(TAG_LENGTH + nonceLen) * 2} bytes; the device has ${info.sectorSize}`);
    }
    return new CcmBlock(inner, info, Uint8Array.from(raw), options);
  }

  async info(): Promise<BlockInfo> {
    return { ...this.#info };
  }

  async read(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError("ccm", "read");
    const count = checkIo("ccm", this.#info, "read", sector, buffer);
    const s = this.#info.sectorSize;
    const physical = new Uint8Array(count * 2 * s);
    await this.#inner.read(sector * 2, physical);
    for (let i = 0; i < count; i++) {
      const pair = physical.subarray(i * 2 * s, (i + 1) * 2 * s);
      const out = buffer.subarray(i * s, (i + 1) * s);
      if (!this.#decrypt(pair, out)) {
        buffer.fill(0);
        throw new BlockError(
          "integrity",
          `ccm: logical sector ${sector + i} (physical sectors ${2 * (sector + i)}-${2 * (sector + i) + 1}) failed authentication: wrong key, or the data was modified; nothing was returned`,
        );
      }
    }
  }

  async write(sector: number, buffer: Uint8Array): Promise<void> {
    if (!this.#connected) throw disconnectedError("ccm", "write");
    const count = checkIo("ccm", this.#info, "write", sector, buffer);
    const s = this.#info.sectorSize;
    const physical = new Uint8Array(count * 2 * s);
    // One call to the RNG for every sector of the write: per-sector calls cost as much as the cipher.
    const perSector = s - TAG_LENGTH;
    const random = fillRandom(new Uint8Array(count * perSector));
    for (let i = 0; i < count; i++) {
      const pair = physical.subarray(i * 2 * s, (i + 1) * 2 * s);
      pair.set(random.subarray(i * perSector, (i + 1) * perSector), s + TAG_LENGTH);
      this.#encrypt(buffer.subarray(i * s, (i + 1) * s), pair);
    }
    await this.#inner.write(sector * 2, physical);
  }

  async flush(): Promise<void> {
    if (!this.#connected) throw disconnectedError("ccm", "flush");
    await this.#inner.flush();
  }

  /** Disconnects this layer and the device below (like mirage-block-ccm). */
  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    this.#key.fill(0);
    await this.#inner.disconnect();
  }

  /** Encrypts `plain` into `pair`, whose nonce ‖ adata part already holds fresh random bytes. */
  #encrypt(plain: Uint8Array, pair: Uint8Array): void {
    const s = plain.length;
    const random = pair.subarray(s + TAG_LENGTH);
    const nonce = random.subarray(0, this.#nonceLen);
    const adata = random.subarray(this.#nonceLen);
    const cipher = createCipheriv(this.#algorithm, this.#key, nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(adata, { plaintextLength: s });
    pair.set(cipher.update(plain), 0);
    cipher.final();
    pair.set(cipher.getAuthTag(), s);
  }

  /** Decrypts one physical pair into `out`; false when it does not authenticate. */
  #decrypt(pair: Uint8Array, out: Uint8Array): boolean {
    const s = out.length;
    const nonce = pair.subarray(s + TAG_LENGTH, s + TAG_LENGTH + this.#nonceLen);
    const adata = pair.subarray(s + TAG_LENGTH + this.#nonceLen);
    try {
      const decipher = createDecipheriv(this.#algorithm, this.#key, nonce, { authTagLength: TAG_LENGTH });
      decipher.setAuthTag(pair.subarray(s, s + TAG_LENGTH));
      decipher.setAAD(adata, { plaintextLength: s });
      const plain = decipher.update(pair.subarray(0, s));
      decipher.final();
      out.set(plain);
      return true;
    } catch {
      if (this.#unwritten === "zeros" && isAllZero(pair)) {
        out.fill(0);
        return true;
      }
      return false;
    }
  }
}

function isAllZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** AES-CCM encryption over `block` (composition as values: `ccm(key, await openFile("disk.img"))`). */
export function ccm(key: string | Uint8Array, block: Block, options: CcmOptions = {}): Promise<CcmBlock> {
  return CcmBlock.connect(key, block, options);
}
