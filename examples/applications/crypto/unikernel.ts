import { runtimeArg } from "oasis/runtime";
import { source } from "oasis/logs";
import { randomBytes, randomInt, implementation } from "oasis/random";

const text = runtimeArg.string({ name: "text", default: "Oasis", doc: "The text to hash." });

const log = source("crypto");

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Random numbers from the target's entropy source, and hashes from WebCrypto (present on every
// JavaScript runtime Oasis targets).
export async function start(): Promise<void> {
  log.info(`random source: ${implementation}`);
  log.info(`16 random bytes: ${hex(randomBytes(16))}`);
  log.info(`random integers below 100: ${Array.from({ length: 8 }, () => randomInt(100)).join(" ")}`);
  const data = new TextEncoder().encode(text());
  for (const alg of ["SHA-1", "SHA-256", "SHA-384", "SHA-512"] as const) {
    const digest = new Uint8Array(await crypto.subtle.digest(alg, data));
    log.info(`${alg}(${JSON.stringify(text())}) = ${hex(digest)}`);
  }
}
