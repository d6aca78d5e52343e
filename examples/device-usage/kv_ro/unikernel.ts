import type { KvRo } from "oasis";
import { source } from "oasis/logs";

const log = source("kv_ro", "The kv_ro example");

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Lists the store recursively, one line per entry. */
async function walk(store: KvRo, key: string): Promise<void> {
  for (const [child, kind] of await store.list(key)) {
    if (kind === "dictionary") {
      log.info(`${child}/`);
      await walk(store, child);
    } else log.info(`${child} (${await store.size(child)} bytes)`);
  }
}

export async function start({ store }: { store: KvRo }): Promise<void> {
  await walk(store, "/");
  if ((await store.exists("secret")) !== "value") {
    throw new Error("the store has no value 'secret': create the file t/secret (and rebuild when using --kv-ro=crunch)");
  }
  const secret = new TextDecoder().decode(await store.get("secret")).trimEnd();
  log.info(`secret: ${secret}`);
  log.info(`sha256(secret): ${hex(await store.digest("secret"))}`);
  log.info(`secret last modified: ${(await store.lastModified("secret")).toISOString()}`);
}
